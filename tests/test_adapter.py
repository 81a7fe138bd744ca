"""A PEFT LoRA adapter as the verbalizer, with a small adapter the test creates on SmolLM2."""
from __future__ import annotations

import pytest
import torch

from lib import activations as act
from lib import prompts
from lib import verbalizer as vb
from lib.errors import WorkbookError
from lib.models import load_model

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    from peft import LoraConfig, get_peft_model

    base = load_model("smollm2-135m").hf
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)  # random B: it changes outputs
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("adapter")
    get_peft_model(base, config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def with_adapter(adapter_dir):
    lm = load_model("smollm2-135m")
    vb.attach_adapter(lm, str(adapter_dir))
    return lm


@pytest.fixture(scope="module")
def chat(smol):
    return [prompts.format_instruction(smol, x) for x in prompts.load_prompt_set("harmless")["items"][:3]]


def test_adapter_wraps_the_attention_projections_in_place(with_adapter):
    assert vb.has_adapter(with_adapter)
    assert hasattr(with_adapter.layers[0].self_attn.q_proj, "lora_A")  # same module tree: lm.layers still works


def test_source_activations_are_read_with_the_adapter_off(smol, with_adapter, chat):
    base = act.capture(smol, chat, [10], act.last_tokens(1), progress=False)[:, 0, 0]
    on = act.capture(with_adapter, chat, [10], act.last_tokens(1), progress=False)[:, 0, 0]
    off = vb.source_activations(with_adapter, chat, 10)
    assert not torch.allclose(on, base, atol=1e-3)  # the adapter changes the residual stream
    torch.testing.assert_close(off, base)  # and the protocol reads the base model
    again = act.capture(with_adapter, chat, [10], act.last_tokens(1), progress=False)[:, 0, 0]
    torch.testing.assert_close(again, on)  # switched back on afterwards


def test_verbalize_runs_through_the_adapter(smol, with_adapter, chat):
    sources = vb.source_activations(with_adapter, chat, 10)
    with_it = vb.verbalize(with_adapter, sources, 10, 3.0, max_new_tokens=8, progress=False)
    without = vb.verbalize(smol, sources, 10, 3.0, max_new_tokens=8, progress=False)
    assert all(with_it.token_ids) and with_it.token_ids != without.token_ids


def test_missing_adapter_is_a_clear_error(smol, tmp_path):
    lm = load_model("smollm2-135m")
    with pytest.raises(WorkbookError, match="Cannot load the adapter"):
        vb.attach_adapter(lm, str(tmp_path / "nowhere"))
