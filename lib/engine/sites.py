"""Where edits land in a model, and the one function that applies them to a tensor.

Every site is the output of one module ("point"), so raw forward hooks and nnsight traces edit the
same tensors with the same code (`apply`):

    point        llama / qwen2 / mistral          gemma2 / gemma3 (post-norms inside the block)
    embed        embed_tokens                     embed_tokens (already scaled by sqrt(d))
    attn l       layers[l].self_attn.o_proj       layers[l].post_attention_layernorm
    mlp l        layers[l].mlp                    layers[l].post_feedforward_layernorm
    block l      layers[l]                        layers[l]

block_in of layer l is the output of block l-1 (of the embedding for l = 0): the model passes one
straight into the other. `compile_rows` turns a batch's per-row Interventions into tensors per point
(zeros where a row has nothing there: an exact no-op), and `PassLayout` maps prompt positions to the
columns of the pass being run (left padding, or a shared prefix followed by the rest of each prompt).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from ..errors import WorkbookError
from ..models import LoadedModel
from .recipe import ALL_LAYERS, Intervention

Point = tuple[str, int]  # ("embed", -1), ("attn", l), ("mlp", l), ("block", l)
EMBED: Point = ("embed", -1)
POINT_ORDER = {"attn": 0, "mlp": 1, "block": 2}  # execution order inside a block


def point_of(site: str, layer: int) -> Point:
    """The module whose output is `site` of `layer`."""
    if site == "embed" or (site == "block_in" and layer == 0):
        return EMBED
    if site == "block_in":
        return ("block", layer - 1)
    return ({"attn_out": "attn", "mlp_out": "mlp", "block_out": "block"}[site], layer)


def execution_key(point: Point) -> tuple[int, int]:
    """Sort key: the order in which a forward pass reaches the points (nnsight needs it)."""
    name, layer = point
    return (-1, 0) if point == EMBED else (layer, POINT_ORDER[name])


def write_paths(layer_module) -> dict[str, str]:
    """Attribute paths, inside one decoder layer, of the modules whose outputs are added to the residual stream,
    and of the norm that reads the stream between attention and MLP (the "MLP input" of the stream)."""
    if hasattr(layer_module, "post_feedforward_layernorm"):  # Gemma 2/3: attention and MLP outputs are normed, then added
        return {"attn": "post_attention_layernorm", "mlp": "post_feedforward_layernorm", "mid_norm": "pre_feedforward_layernorm"}
    if hasattr(layer_module, "self_attn") and hasattr(layer_module.self_attn, "o_proj") and hasattr(layer_module, "mlp"):
        return {"attn": "self_attn.o_proj", "mlp": "mlp", "mid_norm": "post_attention_layernorm"}
    raise WorkbookError(f"Unknown decoder-layer layout {type(layer_module).__name__}: add its write sites to lib/engine/sites.py.")


def resolve(root, path: str):
    """getattr along a dotted path (works on torch modules and nnsight envoys alike)."""
    for part in path.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def module_at(lm: LoadedModel, point: Point, nnsight: bool = False):
    """The torch module (or nnsight envoy) whose output is `point`."""
    model = lm.nn.model if nnsight else lm.hf.model
    if point == EMBED:
        return model.embed_tokens
    name, layer = point
    block = model.layers[layer]
    return block if name == "block" else resolve(block, write_paths(lm.layers[layer])[name])


@dataclass
class PointPlan:
    """Per-row edits at one point of one batch. Rows without an edit hold zeros (an exact no-op)."""

    ablate: Float[Tensor, "batch d_model"] | None = None  # unit directions
    add: Float[Tensor, "batch d_model"] | None = None  # summed additions at every position
    # positioned edits (prompt pass only), one entry each: row, prompt position, vector, replace (else add)
    rows: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    vectors: list[Float[Tensor, "d_model"]] = field(default_factory=list)
    replaces: list[bool] = field(default_factory=list)

    def keep_rows(self, keep: Int[Tensor, "kept"]) -> "PointPlan":
        """The plan for a batch reduced to rows `keep`, for decode steps (positioned edits dropped)."""
        return PointPlan(None if self.ablate is None else self.ablate[keep], None if self.add is None else self.add[keep])

    @property
    def every_pass(self) -> bool:
        return self.ablate is not None or self.add is not None


Plan = dict  # Point -> PointPlan


def check_vector(lm: LoadedModel, vector: Float[Tensor, "*rows d_model"]) -> Float[Tensor, "*rows d_model"]:
    """The vector on the model's device and dtype; a clear error when its size is not d_model."""
    if vector.shape[-1] != lm.d_model:
        raise WorkbookError(f"Steering vector has size {vector.shape[-1]} but {lm.key} has d_model {lm.d_model}: "
                            f"use a vector extracted from this model.")
    return vector.to(lm.hf.device, lm.hf.dtype)


def compile_rows(lm: LoadedModel, rows: list[Intervention]) -> Plan:
    """One PointPlan per point that any row edits."""
    plan: Plan = {}
    for i, row in enumerate(rows):
        for edit in row.edits:
            vector = check_vector(lm, edit.vector)
            layers = [0] if edit.site == "embed" else range(lm.n_layers) if edit.layers is ALL_LAYERS else lm.check_layers(edit.layers)
            for point in dict.fromkeys(point_of(edit.site, layer) for layer in layers):
                _add_to_plan(plan.setdefault(point, PointPlan()), len(rows), i, edit, vector)
    return plan


def _add_to_plan(target: PointPlan, n_rows: int, i: int, edit, vector: Float[Tensor, "d_model"]) -> None:
    """Row i's `edit` (its vector already on the model's device and dtype) into the plan of one point."""
    zeros = lambda: torch.zeros(n_rows, vector.shape[-1], device=vector.device, dtype=vector.dtype)
    if edit.kind == "ablate":
        target.ablate = zeros() if target.ablate is None else target.ablate
        if target.ablate[i].any():
            raise WorkbookError(f"Row {i} ablates two directions at one site: combine them into one direction per site.")
        target.ablate[i] = vector / vector.norm()
    elif edit.at == "all":
        target.add = zeros() if target.add is None else target.add
        target.add[i] += vector
    else:
        for position in edit.at:
            target.rows.append(i), target.positions.append(position)
            target.vectors.append(vector), target.replaces.append(edit.kind == "replace")


@dataclass
class PassLayout:
    """Which prompt positions the columns of one forward pass hold, per row ([B] tensors).

    Column `first_column + k` holds prompt position `first_position + k` for k < n_real; other columns are
    padding or generated tokens. Decode steps have prompt_pass=False (positioned edits do not apply)."""

    prompt_pass: bool
    first_column: Int[Tensor, "batch"] | None = None
    first_position: Int[Tensor, "batch"] | None = None
    n_real: Int[Tensor, "batch"] | None = None
    length: Int[Tensor, "batch"] | None = None  # each row's whole prompt length (negative positions count from it)

    @classmethod
    def left_padded(cls, mask: Int[Tensor, "batch seq"]) -> "PassLayout":
        """A whole left-padded prompt batch."""
        length = mask.sum(1)
        return cls(True, mask.shape[1] - length, torch.zeros_like(length), length, length)

    @classmethod
    def decode(cls) -> "PassLayout":
        return cls(False)

    def locate(self, plan: PointPlan) -> tuple[Int[Tensor, "hits"], Int[Tensor, "hits"], Int[Tensor, "hits"]]:
        """(entry index, row, column) of the positioned entries that fall in this pass."""
        rows: Int[Tensor, "entries"] = torch.tensor(plan.rows, device=self.length.device)
        positions: Int[Tensor, "entries"] = torch.tensor(plan.positions, device=self.length.device)
        positions = torch.where(positions < 0, positions + self.length[rows], positions)  # -1: the row's last prompt token
        offset = positions - self.first_position[rows]  # how far into this pass's real columns
        inside: Bool[Tensor, "entries"] = (offset >= 0) & (offset < self.n_real[rows])
        entries = inside.nonzero()[:, 0]
        return entries, rows[entries], self.first_column[rows[entries]] + offset[entries]


def apply(hidden: Float[Tensor, "batch seq d_model"], plan: PointPlan, layout: PassLayout) -> Float[Tensor, "batch seq d_model"]:
    """`hidden` after the plan's edits: ablation, then replacement, then addition. The one edit function:
    forward hooks and nnsight traces both call it."""
    if plan.ablate is not None:
        r = plan.ablate[:, None, :]  # [B, 1, d] unit rows (zero rows leave their row unchanged)
        hidden = hidden - (hidden * r).sum(-1, keepdim=True) * r
    if plan.rows and layout.prompt_pass:
        entries, rows, columns = layout.locate(plan)
        if len(entries):
            hidden = hidden.clone()
            vectors: Float[Tensor, "hits d_model"] = torch.stack([plan.vectors[e] for e in entries.tolist()])
            replace: Bool[Tensor, "hits"] = torch.tensor([plan.replaces[e] for e in entries.tolist()], device=hidden.device)
            hidden[rows[replace], columns[replace]] = vectors[replace]
            hidden.index_put_((rows[~replace], columns[~replace]), vectors[~replace], accumulate=True)
    if plan.add is not None:
        hidden = hidden + plan.add[:, None, :]
    return hidden
