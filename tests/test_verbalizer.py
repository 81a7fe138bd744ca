"""The NLA injection protocol and Patchscopes on the real SmolLM2: placeholder checks, normalize vs
multiply, the injected embedding really is the vector, and the patched state really is the source."""
from __future__ import annotations

import pytest
import torch

from lib import activations as act
from lib import engine
from lib import verbalizer as vb
from lib.errors import WorkbookError


def test_depth_matches_the_seeds_inference_prompt():
    assert vb.depth_percent(20, 28) == 73  # the model card's 73 %, not the 71 % it was trained with


def test_placeholder_is_one_token_that_round_trips(smol):
    char, token_id = vb.placeholder_token(smol.tokenizer)
    assert smol.tokenizer.encode(char, add_special_tokens=False) == [token_id]
    assert smol.tokenizer.decode([token_id]) == char
    ids, pos = vb.nla_prompt_ids(smol, 10, smol.n_layers)
    assert ids[pos] == token_id and ids.count(token_id) == 1


def test_placeholder_that_splits_into_several_tokens_is_refused(smol):
    assert len(smol.tokenizer.encode("\u320e", add_special_tokens=False)) > 1  # the seed's character, in SmolLM2
    with pytest.raises(WorkbookError, match="single token"):
        vb.placeholder_token(smol.tokenizer, candidates=("\u320e",))


def test_normalize_sets_the_norm_and_multiply_scales_it():
    v = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    torch.testing.assert_close(vb.rescale(v, 10.0).norm(dim=-1), torch.tensor([10.0, 10.0]))
    torch.testing.assert_close(vb.rescale(v, 10.0, "multiply").norm(dim=-1), torch.tensor([50.0, 20.0]))
    with pytest.raises(WorkbookError, match="normalize"):
        vb.rescale(v, 1.0, "scale")


def test_injected_embedding_is_the_rescaled_vector_on_the_prompt_pass_only(smol):
    ids, pos = vb.nla_prompt_ids(smol, 10, smol.n_layers)
    text = smol.tokenizer.decode(ids, skip_special_tokens=True)
    torch.manual_seed(0)
    vectors = vb.rescale(torch.randn(2, smol.d_model), 7.0)
    seen = []
    handle = smol.layers[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:  # verbalize's injection: the placeholder's embedding replaced, as the engine's "replace" edit
        engine.generate(smol, [text] * 2, 2, [engine.replace(v, None, at=(pos,), site="embed") for v in vectors],
                        share_prefix=False, progress=False)
    finally:
        handle.remove()
    assert seen[0].shape[1] == len(ids)  # the same prompt ids as verbalize's own
    torch.testing.assert_close(seen[0][:, pos], vectors)
    plain = smol.hf.get_input_embeddings()(torch.tensor([ids]))[0]
    torch.testing.assert_close(seen[0][0, pos - 1], plain[pos - 1])  # neighbours untouched
    assert seen[1].shape[1] == 1  # the generation step carries one new token and is left alone


def test_verbalize_decodes_new_tokens_only_and_depends_on_the_vector(smol):
    torch.manual_seed(0)
    vectors = torch.randn(3, smol.d_model)
    vectors[1] = vectors[0] * 5  # same direction: normalizing makes rows 0 and 1 identical
    out = vb.verbalize(smol, vectors, 10, 3.0, max_new_tokens=12, progress=False)
    assert out.texts[0] == out.texts[1] and "meticulous" not in out.texts[0]
    assert out.injected_norms == pytest.approx([3.0] * 3)
    # one new token: its entropy is that of the prompt pass with the placeholder's embedding replaced
    one = vb.verbalize(smol, vectors[2:], 10, 3.0, max_new_tokens=1, progress=False)
    _, pos = vb.nla_prompt_ids(smol, 10, smol.n_layers)
    text = vb.nla_prompt_text(smol, 10, smol.n_layers)
    logprobs, _ = engine.forward_last(smol, [text], engine.replace(vb.rescale(vectors[2:], 3.0)[0], None, at=(pos,), site="embed"),
                                      progress=False)
    assert one.mean_entropy[0] == pytest.approx(float(-(logprobs.exp() * logprobs).sum()), abs=1e-4)
    multiplied = vb.verbalize(smol, vectors[:1], 10, 3.0, "multiply", max_new_tokens=12, progress=False)
    assert multiplied.injected_norms[0] == pytest.approx(3.0 * float(vectors[0].norm()), rel=1e-5)


def test_cells_verbalized_in_one_batch_read_as_when_verbalized_apart(smol):
    """06 puts every (mode, target) cell of a model in one generation: batching must not change the texts."""
    torch.manual_seed(1)
    sources = torch.randn(2, smol.d_model)
    cells = [(3.0, "normalize"), (0.05, "multiply")]
    apart = [vb.verbalize(smol, sources, 10, target, mode, max_new_tokens=8, progress=False) for target, mode in cells]
    together = vb.verbalize_injected(smol, torch.cat([vb.rescale(sources, t, m) for t, m in cells]), 10, max_new_tokens=8,
                                     batch_size=4, progress=False)
    assert together.texts == [t for v in apart for t in v.texts]
    assert together.injected_norms == pytest.approx([n for v in apart for n in v.injected_norms])


def test_wrong_vector_size_is_refused(smol):
    with pytest.raises(WorkbookError, match=r"\[n, 576\]"):
        vb.verbalize(smol, torch.randn(2, 10), 10, 3.0, progress=False)


def test_patchscope_replacement_puts_the_source_state_at_the_target_position(smol):
    words, layer = ["dog", "river"], 6
    source = act.capture(smol, [vb.SOURCE_CONTEXT + w for w in words], [layer], act.last_tokens(1), progress=False)[:, 0, 0]
    rows = [engine.replace(s, layer, at="last") for s in source]
    _, states = engine.forward_last(smol, [vb.IDENTITY_PROMPT] * 2, rows, read_layers=[layer], progress=False)
    torch.testing.assert_close(states[:, 0], source)  # replaced, not added: the state is the source state
    records = vb.patchscope_identity(smol, words, [0, layer], max_new_tokens=3, progress=False)
    assert [(r["word"], r["source_layer"]) for r in records] == [("dog", 0), ("dog", layer), ("river", 0), ("river", layer)]


def test_source_words_are_one_token_after_the_context(smol):
    kept = vb.single_token_words(smol.tokenizer, ["dog", "river", "antidisestablishmentarianism"])
    assert kept == ["dog", "river"]
    context = smol.tokenizer.encode(vb.SOURCE_CONTEXT, add_special_tokens=False)
    for word in kept:
        assert smol.tokenizer.encode(vb.SOURCE_CONTEXT + word, add_special_tokens=False)[:-1] == context


def test_decoded_word_reads_after_the_arrow():
    assert vb.decoded_word(" -> dog\n\n") == "dog"
    assert vb.decoded_word("\n\n```") == "```"


@pytest.mark.model
def test_precision_at_1_is_exact_at_the_last_layer_and_self_patching_changes_nothing(smol):
    # At the last layer the patched state is the source's final residual: the same logits, so the same top-1.
    texts = ["The quick brown fox jumps over the lazy dog near the river bank.", "Photosynthesis turns light into sugar in leaves."]
    last = smol.n_layers - 1
    records = vb.patchscope_precision_at_1(smol, texts, [3, last], progress=False)
    assert len(records) == 2 * len(texts)
    assert all(r["hit"] for r in records if r["source_layer"] == last)
    assert all(r["self_patch_same"] for r in records)
    again = vb.patchscope_precision_at_1(smol, texts, [3, last], progress=False)
    assert [r["position"] for r in again] == [r["position"] for r in records]  # seeded source positions
    assert all(0 <= r["position"] <= len(smol.tokenizer(r["text"]).input_ids) - 2 for r in records)
