"""The benchmark's FLOP count: the work per token excludes the embedding and the output head, tied or not."""
from __future__ import annotations

from lib.bench import non_embedding_params


def test_non_embedding_params_count_the_decoder_only(smol):
    decoder = sum(p.numel() for p in smol.hf.model.layers.parameters()) + sum(p.numel() for p in smol.hf.model.norm.parameters())
    assert non_embedding_params(smol.hf) == decoder
    # SmolLM2 ties its head to the embedding; the count must not subtract the shared matrix twice
    assert smol.hf.get_output_embeddings().weight is smol.hf.get_input_embeddings().weight
