"""llama.cpp steers with the workbook's control-vector files where PyTorch adds the same vectors: block k's output.

The model test is the small version of 08_llamacpp's layer-convention check, so that a change of the export (or of
llama.cpp's convention) fails here rather than silently shifting every exported vector by a layer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lib import engine, export, llamacpp, prompts
from lib.activations import encode
from lib.errors import WorkbookError

INSTRUCTIONS = ["Give me three tips for a good night's sleep.", "What is the capital of France?",
                "Write a haiku about autumn leaves."]


def test_the_buffer_starts_at_layer_one_with_zeros_where_no_vector_is():
    vectors = {2: np.full(3, 1.0, dtype=np.float32), 4: np.arange(3, dtype=np.float32)}
    buffer = llamacpp.control_vector_buffer(vectors, 2.0, n_embd=3).reshape(4, 3)
    np.testing.assert_array_equal(buffer, [[0, 0, 0], [2, 2, 2], [0, 0, 0], [0, 2, 4]])


def test_a_vector_llama_cpp_cannot_apply_is_refused_with_the_reason():
    with pytest.raises(WorkbookError, match="start at layer 1"):
        llamacpp.control_vector_buffer({0: np.ones(3, dtype=np.float32)}, 1.0, n_embd=3)
    with pytest.raises(WorkbookError, match="width is 4"):
        llamacpp.control_vector_buffer({1: np.ones(3, dtype=np.float32)}, 1.0, n_embd=4)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.model
def test_llama_cpp_adds_the_file_at_the_block_pytorch_adds_it(tmp_path, smol):
    assert llamacpp.available(), f"llama-cpp-python is missing: {llamacpp.INSTALL_HINT}"
    layer = 12
    formatted = [prompts.format_instruction(smol, x) for x in INSTRUCTIONS]
    base_torch, states = engine.forward_last(smol, formatted, engine.NO_EDIT, read_layers=[layer], progress=False)
    generator = torch.Generator().manual_seed(0)
    direction = torch.randn(smol.d_model, generator=generator)
    vector = 0.5 * float(states.norm(dim=-1).mean()) * direction / direction.norm()  # half the residual norm there
    path = export.write_control_vector(tmp_path / "v.gguf", {layer: vector}, export.model_hint(smol))

    llm = llamacpp.load("smollm2-135m", n_ctx=256)
    ids = [encode(smol, [p])["input_ids"][0].tolist() for p in formatted]
    base_llama = np.stack([llamacpp.prompt_logprobs(llm, x) for x in ids])
    llamacpp.apply_control_vector(llm, path)
    steered_llama = np.stack([llamacpp.prompt_logprobs(llm, x) for x in ids])
    llamacpp.clear_control_vector(llm)
    np.testing.assert_array_equal(np.stack([llamacpp.prompt_logprobs(llm, x) for x in ids]), base_llama)  # cleared

    vocab = smol.hf.config.vocab_size
    change_llama = (steered_llama - base_llama)[:, :vocab]
    agreement, error = {}, {}
    for shift in (-1, 0, 1):
        steered_torch, _ = engine.forward_last(smol, formatted, engine.add(vector, layer + shift), progress=False)
        change_torch = (steered_torch - base_torch).numpy()[:, :vocab]
        agreement[shift] = [cosine(a, b) for a, b in zip(change_llama, change_torch)]
        error[shift] = [float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(change_llama, change_torch)]
    # block k: the same change up to llama.cpp's quantized arithmetic; a neighbouring block: clearly another one
    assert all(c > 0.98 for c in agreement[0]) and all(e < 0.15 for e in error[0]), (agreement, error)
    for shift in (-1, 1):
        assert all(c < c0 - 0.03 for c0, c in zip(agreement[0], agreement[shift])), agreement
        assert all(e > 3 * e0 for e0, e in zip(error[0], error[shift])), error
