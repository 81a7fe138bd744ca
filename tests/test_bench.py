"""The benchmark's FLOP count (the work per token excludes the embedding and the output head, tied or not) and its interleaved timing."""
from __future__ import annotations

from lib.bench import non_embedding_params
from lib.timing import interleaved_times


def test_non_embedding_params_count_the_decoder_only(smol):
    decoder = sum(p.numel() for p in smol.hf.model.layers.parameters()) + sum(p.numel() for p in smol.hf.model.norm.parameters())
    assert non_embedding_params(smol.hf) == decoder
    # SmolLM2 ties its head to the embedding; the count must not subtract the shared matrix twice
    assert smol.hf.get_output_embeddings().weight is smol.hf.get_input_embeddings().weight


def test_interleaved_times_alternates_the_compared_functions():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    medians, times = interleaved_times(fns, reps=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # the warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # each round starts one later
    assert set(medians) == set("abc") and all(len(t) == 3 for t in times.values())
