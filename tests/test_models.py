"""Model loading on the real SmolLM2 weights, and chunk assembly on small files of our own."""
from __future__ import annotations

import hashlib
import sys

import pytest

from lib import models, prompts, registry
from lib.errors import WorkbookError


def test_loaded_model_is_wrapped_and_left_padded(smol):
    from nnsight import TransformersModel

    assert isinstance(smol.nn, TransformersModel)
    assert (smol.n_layers, smol.d_model) == (30, 576)
    assert smol.tokenizer.padding_side == "left"
    assert "<|im_start|>assistant" in prompts.format_instruction(smol, "Say hi.")


def test_dequantized_cache_is_keyed_by_the_weight_hash_and_reused(smol):
    spec = registry.ZOO["smollm2-135m"]
    cache = models.dequantized_dir(spec)
    assert spec.sha256[:16] in cache.name and (cache / "model.safetensors").exists()
    stamp = (cache / "model.safetensors").stat().st_mtime_ns
    again = models.load_model("smollm2-135m")
    assert (cache / "model.safetensors").stat().st_mtime_ns == stamp  # loaded from the cache, not rebuilt
    assert again.hf.model.embed_tokens.weight.equal(smol.hf.model.embed_tokens.weight)


@pytest.fixture()
def fake_chunked_model(tmp_path, monkeypatch):
    """Two installed 'carrier packages' with one chunk each, on sys.path, and a spec naming them."""
    parts = [b"GGUF-first-half|", b"second-half"]
    for i, data in enumerate(parts, 1):
        package = tmp_path / "site" / f"fakeweights_part{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('carrier packages must never be imported')\n")
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("WORKBOOK_CACHE_DIR", str(tmp_path / "cache"))
    chunks = tuple(registry.WeightChunk(f"fakeweights_part{i}", f"data/part{i:02d}.bin", f"fakeweights-part{i}==1")
                   for i in (1, 2))
    sha = hashlib.sha256(b"".join(parts)).hexdigest()
    make = lambda sha256: registry.ModelSpec(key="fake", display_name="fake", family="llama", n_params=1,
                                              instruct=True, gguf_name="fake.gguf", sha256=sha256, chunks=chunks)
    return make, sha, b"".join(parts)


def test_chunks_are_assembled_in_order_and_verified(fake_chunked_model):
    make, sha, content = fake_chunked_model
    path = models.gguf_file(make(sha))
    assert path.read_bytes() == content
    assert "fakeweights_part1" not in sys.modules  # located, never imported


def test_corrupted_assembly_leaves_no_file_that_looks_valid(fake_chunked_model):
    make, sha, _ = fake_chunked_model
    spec = make("f" * 64)
    with pytest.raises(WorkbookError, match="Checksum mismatch"):
        models.gguf_file(spec)
    target_dir = models.cache_dir() / "gguf" / spec.sha256[:16]
    assert not (target_dir / "fake.gguf").exists()
    assert not [p for p in target_dir.iterdir()]  # nor a full-size temporary file


def test_a_tokenizer_loads_without_the_weights_and_matches_the_models(smol):
    tokenizer = models.load_tokenizer(smol.spec)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert tokenizer("How do bees make honey?").input_ids == smol.tokenizer("How do bees make honey?").input_ids
