"""Direction arithmetic and storage: difference in means, ActAdd style vectors, cosines, safetensors I/O.

>>> pos, neg = torch.ones(4, 2, 3), torch.zeros(5, 2, 3)     # [n_prompts, n_layers, d]
>>> diff_in_means(pos, neg).shape
torch.Size([2, 3])
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .artifacts import atomic_write_bytes, write_json
from .errors import WorkbookError


def diff_in_means(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Mean over prompts of `positive` minus mean of `negative` (dim 0), kept raw (not normalized)."""
    if len(positive) == 0 or len(negative) == 0:
        raise WorkbookError("Difference in means needs at least one prompt on each side: pass non-empty prompt sets.")
    return positive.float().mean(0) - negative.float().mean(0)


def unit(vectors: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalize along the last axis; a zero vector is an error, not a silent NaN."""
    norms = vectors.norm(dim=-1, keepdim=True)
    if (norms < eps).any():
        raise WorkbookError(
            "Cannot normalize a zero-norm direction: the two prompt sets gave identical activations, "
            "so check that they differ."
        )
    return vectors / norms


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity along the last axis (broadcasting)."""
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)


def save_directions(stem: Path, tensors: dict[str, torch.Tensor], sidecar: dict) -> list[Path]:
    """Write `<stem>.safetensors` and a `<stem>.json` sidecar with each tensor's shape and raw norms."""
    from safetensors.torch import save

    tensor_path, sidecar_path = _paths(stem)
    tensors = {name: t.detach().float().contiguous().cpu() for name, t in tensors.items()}
    meta = dict(sidecar)
    meta["tensors"] = {
        name: {"shape": list(t.shape), "raw_norm": t.norm(dim=-1).tolist()} for name, t in tensors.items()
    }
    atomic_write_bytes(tensor_path, save(tensors))
    write_json(sidecar_path, meta)
    return [tensor_path, sidecar_path]


def load_directions(stem: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read what `save_directions` wrote: (tensors, sidecar)."""
    from safetensors.torch import load_file

    tensor_path, sidecar_path = _paths(stem)
    if not tensor_path.exists():
        raise WorkbookError(f"No directions at {tensor_path}: run notebook 01_extraction first (make paper).")
    return load_file(tensor_path), json.loads(sidecar_path.read_text())


def has_directions(stem: Path) -> bool:
    """Whether `save_directions` wrote `stem`."""
    return _paths(stem)[0].exists()


def _paths(stem: Path) -> tuple[Path, Path]:
    """`<stem>.safetensors` and `<stem>.json`; appended, since stems like `qwen2.5-0.5b_x` contain dots."""
    stem = Path(stem)
    return stem.parent / f"{stem.name}.safetensors", stem.parent / f"{stem.name}.json"
