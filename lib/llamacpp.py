"""llama.cpp as a second runtime for the workbook's vectors: the zoo's own GGUF files, run by llama-cpp-python,
steered by the control-vector files `lib.export` writes.

llama.cpp (llama-adapter.cpp, `llama_adapter_cvec`) adds the control vector of layer il to the output of decoder
layer il (counted from 0) at every position, prompt included; the vector buffer starts at layer 1, so layer 0
cannot be steered. That is the workbook's `engine.add(vector, layer)` at site block_out. `apply_control_vector`
loads a file the way llama.cpp's own `--control-vector-scaled FILE SCALE` does (common.cpp,
`common_control_vector_load`: direction.<il> times the scale, layers 1..n_layer), then hands the buffer to
`llama_set_adapter_cvec`. Decoding is greedy and token by token from the token ids the workbook's tokenizer
produced, so both runtimes read the same prompts; the stop tokens are the workbook's.

    llm = llamacpp.load("qwen2.5-0.5b")
    llamacpp.apply_control_vector(llm, "terse.gguf", scale=1.0)
    new_ids, first_logprobs = llamacpp.generate(llm, [prompt_ids], 256, stop_ids={151645}, control_vector="terse.gguf")

Install with `make llamacpp` (requirements-llamacpp.lock, built from the PyPI sdist).
"""
from __future__ import annotations

import ctypes
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import models, registry, unitcache
from .errors import WorkbookError
from .export import read_control_vector
from .hashing import file_sha256

INSTALL_HINT = "install it with `make llamacpp` (llama-cpp-python from requirements-llamacpp.lock, built from source)"


def available() -> bool:
    """Whether llama-cpp-python is importable here."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def package_version() -> str:
    """The installed llama-cpp-python version, for the paper (the manifest records it too)."""
    return version("llama-cpp-python")


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as error:
        raise WorkbookError(f"llama-cpp-python is not installed: {INSTALL_HINT}.") from error
    return llama_cpp


def load(key: str, gguf_file: str | Path | None = None, n_ctx: int = 1024, n_threads: int | None = None):
    """Model `key` in llama.cpp: the zoo's own verified GGUF file (the one the PyTorch side de-quantizes), or, for a
    hub model, the GGUF file the caller names (llama.cpp reads no safetensors)."""
    spec = registry.resolve(key)
    if gguf_file is None and not spec.is_packaged:
        raise WorkbookError(f"{key} has no GGUF file in the zoo: name one for it (the notebook's gguf_files, e.g. a Q8_0 "
                            "conversion made with llama.cpp's convert_hf_to_gguf.py).")
    path = Path(gguf_file) if gguf_file else models.gguf_file(spec)
    if not path.is_file():
        raise WorkbookError(f"GGUF file {path} for {key} does not exist: fix the path in gguf_files.")
    llama_cpp = _llama_cpp()
    threads = n_threads or len(os.sched_getaffinity(0))
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_threads=threads,
                          n_threads_batch=threads, logits_all=False, verbose=False)
    llm.workbook_weights = spec.weight_id if gguf_file is None else file_sha256(path)  # the file's identity, for cache keys
    return llm


def n_layers(llm) -> int:
    return int(_llama_cpp().llama_model_n_layer(llm.model))


def control_vector_buffer(vectors: dict[int, np.ndarray], scale: float, n_embd: int) -> np.ndarray:
    """llama.cpp's layout: one row of n_embd floats per layer from layer 1 up to the highest steered layer, zeros
    where a layer has no vector, each vector times `scale`."""
    if min(vectors) < 1:
        raise WorkbookError(f"llama.cpp cannot steer layer {min(vectors)}: its control vectors start at layer 1.")
    buffer = np.zeros((max(vectors), n_embd), dtype=np.float32)
    for layer, vector in vectors.items():
        if vector.size != n_embd:
            raise WorkbookError(f"The control vector of layer {layer} has {vector.size} values but the model's width is {n_embd}: "
                                "export the vector of this model.")
        buffer[layer - 1] = scale * vector
    return buffer.reshape(-1)


def apply_control_vector(llm, path: Path | str, scale: float = 1.0) -> None:
    """Steer `llm` with a control-vector file, as `--control-vector-scaled path scale` does."""
    vectors, _ = read_control_vector(Path(path))
    _set_buffer(llm, control_vector_buffer(vectors, scale, llm.n_embd()))


def clear_control_vector(llm) -> None:
    """Back to the unsteered model (llama.cpp clears the vector when it is given no data)."""
    _set_buffer(llm, None)


def _set_buffer(llm, buffer: np.ndarray | None) -> None:
    llama_cpp = _llama_cpp()
    if buffer is None:
        status = llama_cpp.llama_set_adapter_cvec(llm._ctx.ctx, None, 0, llm.n_embd(), -1, -1)
    else:
        data = buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        status = llama_cpp.llama_set_adapter_cvec(llm._ctx.ctx, data, buffer.size, llm.n_embd(), 1, n_layers(llm))
    if status != 0:
        raise WorkbookError(f"llama.cpp refused the control vector (status {status}): check that it was exported for this model.")
    llm.reset()  # the cached prompt states were computed under the previous vector


def _last_logits(llm) -> np.ndarray:
    """The next-token logits after the last `eval` (llama.cpp keeps only the last position's when logits_all=False)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def prompt_logprobs(llm, prompt_ids: list[int]) -> np.ndarray:
    """Next-token log-probs after the prompt, computed from scratch (no state kept from an earlier prompt)."""
    llm.reset()
    llm.eval(list(prompt_ids))
    logits = _last_logits(llm).astype(np.float64)
    return (logits - np.logaddexp.reduce(logits)).astype(np.float32)


def greedy(llm, prompt_ids: list[int], max_new_tokens: int, stop_ids: set[int]) -> tuple[list[int], np.ndarray]:
    """Greedy new token ids up to (not including) the first stop token, and the first step's log-probs."""
    first = prompt_logprobs(llm, prompt_ids)
    logits, new = first, []
    for _ in range(max_new_tokens):
        token = int(np.argmax(logits))
        if token in stop_ids:
            break
        new.append(token)
        llm.eval([token])
        logits = _last_logits(llm)
    return new, first


def generate(llm, prompt_ids: list[list[int]], max_new_tokens: int, stop_ids: set[int], control_vector: Path | str | None = None,
             scale: float = 1.0, chunk: int = 8, progress: bool = True) -> tuple[list[list[int]], np.ndarray]:
    """Greedy new ids for each prompt under a control-vector file (None: unsteered), and each prompt's first-step
    log-probs [n, vocab]. Chunks of `chunk` prompts are cached units (lib.unitcache), keyed by the GGUF file, the
    llama-cpp-python version, the prompts, the control vector's bytes and the decode settings."""
    if control_vector is None:
        clear_control_vector(llm)
    else:
        apply_control_vector(llm, control_vector, scale)
    identity = {"weights": llm.workbook_weights, "llama_cpp_python": package_version(),
                "control_vector": file_sha256(Path(control_vector)) if control_vector else None, "scale": scale,
                "max_new_tokens": max_new_tokens, "stop_ids": sorted(stop_ids), "code": unitcache.code_version(greedy)}
    new_ids, first = [], []
    for start in tqdm(range(0, len(prompt_ids), chunk), desc=f"llama.cpp {Path(llm.model_path).stem}", disable=not progress, leave=False):
        part = [list(map(int, ids)) for ids in prompt_ids[start:start + chunk]]
        done = unitcache.cached("llamacpp", [identity, part], lambda: [greedy(llm, ids, max_new_tokens, stop_ids) for ids in part])
        new_ids += [ids for ids, _ in done]
        first += [logprobs for _, logprobs in done]
    return new_ids, np.stack(first) if first else np.empty((0, llm.n_vocab()), dtype=np.float32)
