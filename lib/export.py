"""Export steering vectors as a llama.cpp control vector (GGUF), for users of llama.cpp and ollama.

llama.cpp reads one float32 tensor `direction.<layer>` of size d_model per steered layer and adds
it, times the user's `--control-vector-scaled` factor, to the output of that decoder layer (counted
from 0, as in this workbook) at every position, prompt included: the workbook's
`engine.add(vector, layer)` (site block_out, every position). Its slot 0 is reserved, so layer 0 cannot be exported.
Metadata: `general.architecture = controlvector`, `controlvector.model_hint` (the llama.cpp
architecture the vectors belong to, e.g. "qwen2") and `controlvector.layer_count`.

    write_control_vector("refusal.gguf", {14: alpha * unit_direction}, model_hint="qwen2")
    llama-cli -m model.gguf --control-vector-scaled refusal.gguf 1.0     # in llama.cpp
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .artifacts import atomic_path
from .errors import WorkbookError

ARCHITECTURE = "controlvector"


def model_hint(lm) -> str:
    """llama.cpp's name for the model's architecture (the transformers model_type for llama, qwen2, gemma3)."""
    return str(lm.hf.config.model_type)


def write_control_vector(path: Path, vectors: dict[int, torch.Tensor], model_hint: str) -> Path:
    """Write {layer: vector [d]} as a control-vector GGUF file, atomically."""
    import gguf

    if not vectors:
        raise WorkbookError("No vectors to export: pass {layer: vector} for at least one layer.")
    sizes = {int(torch.as_tensor(v).numel()) for v in vectors.values()}
    if len(sizes) != 1:
        raise WorkbookError(f"The vectors have different sizes {sorted(sizes)}: export vectors of one model (one d_model) at a time.")
    if min(vectors) < 1:
        raise WorkbookError(
            f"llama.cpp cannot steer layer {min(vectors)} (its control vectors start at layer 1): export layers 1 and above."
        )
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), ARCHITECTURE)
        writer.add_string(f"{ARCHITECTURE}.model_hint", model_hint)
        writer.add_uint32(f"{ARCHITECTURE}.layer_count", len(vectors))
        for layer in sorted(vectors):
            values = torch.as_tensor(vectors[layer]).detach().float().cpu().reshape(-1).numpy()
            writer.add_tensor(f"direction.{layer}", np.ascontiguousarray(values, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return path


def read_control_vector(path: Path) -> tuple[dict[int, np.ndarray], dict]:
    """({layer: vector}, {metadata key: value}) of a control-vector GGUF file, read with the gguf package."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    meta = {}
    for name in ("general.architecture", f"{ARCHITECTURE}.model_hint", f"{ARCHITECTURE}.layer_count"):
        field = reader.get_field(name)
        if field is None:
            raise WorkbookError(f"{path} has no {name!r} key, so it is not a control vector: export it with write_control_vector.")
        meta[name] = field.contents()
    vectors = {}
    for tensor in reader.tensors:
        if not tensor.name.startswith("direction."):
            raise WorkbookError(f"{path} holds an unexpected tensor {tensor.name!r}: a control vector has only direction.<layer> tensors.")
        vectors[int(tensor.name.split(".", 1)[1])] = np.array(tensor.data, dtype=np.float32).reshape(-1)
    return vectors, meta
