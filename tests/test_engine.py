"""The intervention engine on real models: every edit kind through hooks and nnsight, Arditi's ablation at
every site of the llama, qwen2 and gemma3 layouts, generation token-identical to `transformers`' own, and
the cached sweep and scoring paths against plain passes."""
from __future__ import annotations

import pytest
import torch

from lib import engine, prompts
from lib.activations import encode
from lib.engine import sites
from lib.engine.backends import EditSession, hooked
from lib.engine.generation import length_order
from lib.errors import WorkbookError
from lib.models import load_model


@pytest.fixture(scope="module")
def chat(smol):
    items = prompts.load_prompt_set("harmless")["items"][:4]
    return [prompts.format_instruction(smol, x) for x in items]


@pytest.fixture(scope="module")
def direction(smol):
    v = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(0))
    return v / v.norm()


EDIT_KINDS = {  # each a recipe of a real use, large enough to change the text
    "add, every position, layers 10 to the end (seed 003)": lambda d: engine.add(40 * d, range(10, 30)),
    "add, last prompt token (function vector)": lambda d: engine.add(8 * d, 5, at="last"),
    "add at given prompt positions": lambda d: engine.add(30 * d, 4, at=(2, 3, -2)),
    "add at the attention output": lambda d: engine.add(20 * d, 7, site="attn_out"),
    "add at the MLP output": lambda d: engine.add(20 * d, 7, site="mlp_out"),
    "add at a block input": lambda d: engine.add(30 * d, 6, site="block_in"),
    "directional ablation (Arditi)": lambda d: engine.ablate(d),
    "ablation plus addition": lambda d: engine.ablate(d) + engine.add(30 * d, 3),
    "replace the last state (Patchscopes)": lambda d: engine.replace(60 * d, 8, at="last"),
    "replace an input embedding (verbalizer)": lambda d: engine.replace(3 * d, None, at=(5,), site="embed"),
}


@pytest.mark.parametrize("kind", list(EDIT_KINDS))
def test_every_edit_kind_gives_identical_tokens_through_hooks_and_nnsight(smol, chat, direction, kind):
    rows = [engine.NO_EDIT, EDIT_KINDS[kind](direction), EDIT_KINDS[kind](-direction), engine.NO_EDIT]  # mixed rows
    hooks = engine.generate(smol, chat, 10, rows, backend="hooks", progress=False)
    nnsight = engine.generate(smol, chat, 10, rows, backend="nnsight", progress=False)
    assert hooks.token_ids == nnsight.token_ids
    torch.testing.assert_close(hooks.first_logprobs, nnsight.first_logprobs, atol=1e-4, rtol=0)
    plain = engine.generate(smol, chat, 10, progress=False)
    assert hooks.token_ids[0] == plain.token_ids[0] and hooks.token_ids[3] == plain.token_ids[3]  # empty rows: exact no-ops
    assert not torch.allclose(hooks.first_logprobs[1:3], plain.first_logprobs[1:3], atol=1e-3)  # the edit acted


def _residual_reads(lm, prompts_, intervention) -> dict[str, list[torch.Tensor]]:
    """The residual stream at every block input, every MLP input (the stream the pre-MLP norm reads) and every
    block output, under `intervention`, read by hooks registered after the engine's."""
    inputs = encode(lm, prompts_)
    plan = sites.compile_rows(lm, [intervention] * len(prompts_))
    reads = {"block input": [], "MLP input": [], "block output": []}
    handles = []
    with torch.no_grad(), hooked(lm, EditSession(plan, sites.PassLayout.left_padded(inputs["attention_mask"]))):
        try:
            for layer, block in enumerate(lm.layers):
                mid = sites.resolve(block, sites.write_paths(block)["mid_norm"])
                handles.append(block.register_forward_pre_hook(lambda m, args: reads["block input"].append(args[0])))
                handles.append(mid.register_forward_pre_hook(lambda m, args: reads["MLP input"].append(args[0])))
                handles.append(block.register_forward_hook(lambda m, args, out: reads["block output"].append(out)))
            lm.hf(**inputs, use_cache=False, logits_to_keep=1)
        finally:
            for handle in handles:
                handle.remove()
    return reads


@pytest.mark.model
@pytest.mark.parametrize("key", ["smollm2-135m", "qwen2.5-0.5b", "gemma3-270m"])  # llama, qwen2, gemma3 layouts
def test_ablation_leaves_no_component_along_the_direction_anywhere_in_the_stream(key):
    lm = load_model(key)
    chat = [prompts.format_instruction(lm, x) for x in prompts.load_prompt_set("harmful")["items"][:3]]
    plain = _residual_reads(lm, chat, engine.NO_EDIT)
    # the mean block output at a middle layer: a direction the stream really has a component along
    d = plain["block output"][lm.n_layers // 2][:, -1].mean(0)
    d = d / d.norm()
    ablated = _residual_reads(lm, chat, engine.ablate(d))
    for site, states in ablated.items():
        assert len(states) == lm.n_layers
        for layer, state in enumerate(states):
            along = (state.float() @ d.float()).abs().max()
            assert along <= 1e-5 * state.float().norm(dim=-1).max(), (site, layer, float(along))
    before = torch.stack([(s.float() @ d).abs().max() for s in plain["block output"]])
    assert before.max() > 1.0  # there was a component to remove
    # the old, weaker edit (layer outputs only) leaves the MLP reading what attention just wrote along d
    weak = _residual_reads(lm, chat, engine.ablate_at(d, range(lm.n_layers)) + engine.ablate_at(d, [], site="embed"))
    assert max(float((s.float() @ d).abs().max()) for s in weak["MLP input"]) > 1e-3


def _hf_generate(lm, prompts_, tokens, hook_vector=None, layer=None):
    """Reference: transformers' generate on the same length-ordered batch, optionally with a plain forward hook."""
    order = length_order(lm, prompts_)
    inputs = encode(lm, [prompts_[i] for i in order])
    handle = None
    if hook_vector is not None:
        handle = lm.layers[layer].register_forward_hook(lambda m, a, out: out + hook_vector)
    try:
        with torch.no_grad():
            out = lm.hf.generate(**inputs, max_new_tokens=tokens, do_sample=False, pad_token_id=lm.tokenizer.pad_token_id)
    finally:
        if handle:
            handle.remove()
    ids = [engine.until_eos(lm, row[inputs["input_ids"].shape[1] :].tolist()) for row in out]
    restore = sorted(range(len(order)), key=order.__getitem__)
    return [ids[i] for i in restore]


def test_generation_with_finished_rows_leaving_the_batch_equals_transformers_generate(smol, direction):
    items = prompts.load_prompt_set("harmless")["items"][:6]
    # questions answered in a few words end early, so rows leave the batch at different steps
    chat = [prompts.format_instruction(smol, x) for x in items] + [prompts.format_instruction(smol, q) for q in
                                                                    ("Say yes.", "What is 2 + 2? Answer with the number only.")]
    batch_sizes = []  # rows of each forward pass, as the first block sees them
    spy = smol.layers[0].register_forward_pre_hook(lambda module, args: batch_sizes.append(args[0].shape[0]))
    try:
        ours = engine.generate(smol, chat, 40, batch_size=8, progress=False)
    finally:
        spy.remove()
    assert ours.token_ids == _hf_generate(smol, chat, 40)
    assert min(batch_sizes) < max(batch_sizes) == 8  # rows left the batch
    assert any(len(ids) < 40 for ids in ours.token_ids) and any(len(ids) == 40 for ids in ours.token_ids)
    steered = engine.generate(smol, chat, 24, engine.add(8 * direction, 12), batch_size=8, progress=False)
    assert steered.token_ids == _hf_generate(smol, chat, 24, 8 * direction, 12)


def test_shared_prefix_generation_equals_full_prompts(smol, chat, direction, monkeypatch):
    rows = [EDIT_KINDS[kind](direction) for kind in EDIT_KINDS for _ in chat]  # every edit on every prompt
    shared_sizes = []
    original = engine.generation._shared_prefix

    def spy(lm, inputs, batch_rows, session):
        split = original(lm, inputs, batch_rows, session)
        shared_sizes.append(0 if split is None else split[3].get_seq_length())
        return split

    monkeypatch.setattr(engine.generation, "_shared_prefix", spy)
    shared = engine.generate(smol, chat * len(EDIT_KINDS), 10, rows, batch_size=40, progress=False)
    full = engine.generate(smol, chat * len(EDIT_KINDS), 10, rows, share_prefix=False, batch_size=40, progress=False)
    assert shared_sizes and shared_sizes[0] >= engine.generation.MIN_SHARED_PREFIX  # SmolLM2's system prompt was shared
    assert shared.token_ids == full.token_ids
    torch.testing.assert_close(shared.first_logprobs, full.first_logprobs, atol=1e-4, rtol=1e-5)


def test_addition_moves_the_read_state_by_the_vector(smol, chat, direction):
    _, plain = engine.forward_last(smol, chat, None, read_layers=[6], progress=False)
    _, moved = engine.forward_last(smol, chat, engine.add(5 * direction, 6), read_layers=[6], progress=False)
    torch.testing.assert_close(moved - plain, (5 * direction).expand_as(plain), atol=1e-4, rtol=0)
    _, early = engine.forward_last(smol, chat, engine.add(5 * direction, 7, site="block_in"), read_layers=[6], progress=False)
    torch.testing.assert_close(early - plain, (5 * direction).expand_as(plain), atol=1e-4, rtol=0)  # block 7's input is block 6's output


def test_last_position_edits_act_on_the_prompt_pass_only(smol, chat, direction):
    last = engine.add(60 * direction, 8, at="last")
    logprobs, _ = engine.forward_last(smol, chat[:1], last, progress=False)
    plain, _ = engine.forward_last(smol, chat[:1], None, progress=False)
    assert not torch.allclose(logprobs, plain)
    gen = engine.generate(smol, chat[:1], 6, last, progress=False)
    torch.testing.assert_close(gen.first_logprobs, logprobs, atol=1e-4, rtol=0)
    # an edit at an earlier prompt position leaves the last position's state unchanged at that layer's output
    _, at_two = engine.forward_last(smol, chat[:1], engine.replace(0 * direction, 0, at=(2,)), read_layers=[0], progress=False)
    _, base = engine.forward_last(smol, chat[:1], None, read_layers=[0], progress=False)
    torch.testing.assert_close(at_two, base)


PROMPTS = ["The opposite of hot is", "The capital of France is the city of", "cold ↔"]


def test_sweep_matches_a_full_forward_pass_under_the_same_edits(smol):
    v = torch.randn(smol.d_model, generator=torch.Generator().manual_seed(1)) * 4
    per_prompt = engine.add_rows(torch.stack([v, -v, 3 * v]), 3, at="last")  # one vector per prompt
    conditions = [engine.NO_EDIT, engine.add(v, 3, at="last"), engine.add(2 * v, 12, at="last"), per_prompt,
                  engine.add(v, 27, at="last") + engine.add(v, 3, at="last")]
    targets = [1, 2, 3]
    sweep = engine.next_token_sweep(smol, PROMPTS, conditions, targets=targets, batch_size=2, max_rows=4, progress=False)
    for c, condition in enumerate(conditions):
        full, _ = engine.forward_last(smol, PROMPTS, condition, backend="nnsight", progress=False)
        assert torch.equal(sweep.top_ids[c], full.argmax(-1))
        torch.testing.assert_close(sweep.target_logprob[c], full[torch.arange(3), torch.tensor(targets)], atol=1e-3, rtol=0)
    assert not torch.equal(sweep.top_ids[0], sweep.top_ids[2])  # the vector does something
    with pytest.raises(WorkbookError, match="at='last' only"):
        engine.next_token_sweep(smol, PROMPTS, [engine.add(v, 3)], progress=False)
    with pytest.raises(WorkbookError, match="one per prompt"):
        engine.next_token_sweep(smol, PROMPTS, [per_prompt[:2]], progress=False)


def _unbatched_nll(lm, prompt: str, continuation: list[int]) -> float:
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    full = torch.cat([ids, torch.tensor([continuation])], 1)
    with torch.no_grad():
        logprobs = lm.hf(full).logits[0, :-1].log_softmax(-1)
    return float(-logprobs[ids.shape[1] - 1 :].gather(-1, full[0, ids.shape[1] :, None]).mean())


def test_continuation_nll_matches_an_unbatched_forward_pass(smol, chat):
    gen = engine.generate(smol, chat, 8, progress=False)
    # repeated prompts share one prompt pass; continuations of different lengths share a batch
    prompts_ = [chat[0], chat[1], chat[0], chat[1], chat[0]]
    continuations = [gen.token_ids[0], gen.token_ids[1], gen.token_ids[1][:3], gen.token_ids[0][:5], gen.token_ids[2]]
    nll = engine.continuation_nll(smol, prompts_, continuations, batch_size=4, progress=False)
    for r, (prompt, continuation) in enumerate(zip(prompts_, continuations)):
        assert float(nll[r]) == pytest.approx(_unbatched_nll(smol, prompt, continuation), abs=1e-4)
    assert torch.isnan(engine.continuation_nll(smol, chat[:1], [[]], progress=False)).all()  # nothing to score


def test_equal_recipes_have_equal_keys(direction):
    assert engine.add(2 * direction, 3).key() == engine.add(2 * direction, 3).key()
    assert engine.add(2 * direction, 3).key() != engine.add(2 * direction, 4).key()
    assert engine.ablate(direction).key() != engine.ablate(-direction).key()


def test_bad_edits_are_refused_with_a_fix(smol, chat, direction):
    with pytest.raises(WorkbookError, match="one per prompt"):
        engine.generate(smol, chat, 2, [engine.NO_EDIT], progress=False)
    with pytest.raises(WorkbookError, match="'all', 'last' or a tuple"):
        engine.add(direction, 3, at="first")
    with pytest.raises(WorkbookError, match="Unknown edit site"):
        engine.add(direction, 3, site="residual")
    with pytest.raises(WorkbookError, match="needs the prompt positions"):
        engine.Edit("replace", "block_out", direction, (3,))
    with pytest.raises(WorkbookError, match="zero direction"):
        engine.ablate(torch.zeros(smol.d_model))
    with pytest.raises(WorkbookError, match="d_model"):
        engine.forward_last(smol, chat, engine.add(torch.ones(7), 3), progress=False)
    with pytest.raises(WorkbookError, match="out of range"):
        engine.forward_last(smol, chat, engine.add(direction, 99), progress=False)
    with pytest.raises(WorkbookError, match="backend"):
        engine.generate(smol, chat, 2, backend="pyvene", progress=False)
