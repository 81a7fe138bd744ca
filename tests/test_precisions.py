"""Precisions as load options: the round trips store exactly the format's values, bitsandbytes
layers really are quantized, and steering runs through them (bad choices: tests/test_bad_input.py)."""
from __future__ import annotations

import pytest
import torch

from lib import engine
from lib import models, precisions, prompts


@pytest.fixture(scope="module")
def matrix():
    torch.manual_seed(0)
    return torch.randn(64, 256)


def relative_error(a, b):
    return float((a - b).detach().norm() / b.detach().norm())


@pytest.mark.parametrize("precision, low, high", [("bf16-weights", 1e-4, 1e-2), ("gguf-q8_0", 1e-3, 1e-2), ("gguf-q4_0", 0.03, 0.15)])
def test_round_trip_error_is_the_formats_and_repeating_it_changes_nothing(matrix, precision, low, high):
    once = precisions.round_trip(matrix, precision)
    assert once.shape == matrix.shape and once.dtype == matrix.dtype
    assert low < relative_error(once, matrix) < high
    torch.testing.assert_close(precisions.round_trip(once, precision), once, rtol=0, atol=1e-6)  # values are representable


def test_gguf_storage_cost_matches_the_gguf_package():
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    for name, qtype in precisions.GGUF_TYPES.items():
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[qtype]]
        assert precisions.PRECISIONS[name].bits_per_weight == 8 * type_size / block


def test_gguf_round_trip_model_changes_matrices_only_and_keeps_ties(smol):
    lm = models.load_model("smollm2-135m", "gguf-q4_0")
    assert lm.precision == "gguf-q4_0"
    reference = dict(smol.hf.named_parameters())
    for name, param in lm.hf.named_parameters():
        if param.ndim == 2:
            assert 0.01 < relative_error(param, reference[name]) < 0.2, name
        else:  # norm weights stay fp32, untouched
            assert torch.equal(param, reference[name]), name
    assert lm.hf.lm_head.weight.data_ptr() == lm.hf.model.embed_tokens.weight.data_ptr()  # still tied


@pytest.mark.model
@pytest.mark.parametrize("precision, layer_class", [("bnb-int8", "Linear8bitLt"), ("bnb-nf4", "Linear4bit")])
def test_bitsandbytes_models_are_quantized_and_steer_identically_through_hooks_and_nnsight(precision, layer_class):
    lm = models.load_model("smollm2-135m", precision)
    assert type(lm.layers[0].mlp.down_proj).__name__ == layer_class
    chat = [prompts.format_instruction(lm, x) for x in prompts.load_prompt_set("harmless")["items"][:2]]
    torch.manual_seed(0)
    direction = torch.randn(lm.d_model)
    rows = [engine.add(40 * direction / direction.norm(), 10), engine.ablate(direction)]
    hooks = engine.generate(lm, chat, 6, rows, backend="hooks", progress=False)
    nnsight = engine.generate(lm, chat, 6, rows, backend="nnsight", progress=False)
    assert hooks.token_ids == nnsight.token_ids and all(hooks.token_ids)


@pytest.mark.model
def test_a_quantized_load_reads_the_weights_once_even_when_it_builds_the_cache(smol, tmp_path, monkeypatch):
    # An empty cache: the packaged model is de-quantized once (here the built folder is copied in), then its weights
    # are read once, quantized as they load; no fp32 copy of the model is loaded on the way.
    import shutil

    from transformers import AutoModelForCausalLM

    built_cache = models.dequantized_dir(smol.spec)  # under the real cache, before the cache moves
    builds, reads = [], []
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(models, "_build_dequantized_cache", lambda spec, target: builds.append(shutil.copytree(built_cache, target)))
    original = AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained",
                        lambda *args, **kwargs: reads.append(kwargs.get("quantization_config")) or original(*args, **kwargs))
    lm = models.load_model("smollm2-135m", "bnb-nf4")
    assert len(builds) == 1 and len(reads) == 1 and reads[0].bnb_4bit_quant_type == "nf4"
    assert lm.precision == "bnb-nf4" and str(tmp_path) in str(models.dequantized_dir(smol.spec))
