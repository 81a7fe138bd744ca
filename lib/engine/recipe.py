"""The recipe of an edit of the forward pass: what is done, at which site, at which positions.

An `Edit` is one operation on the residual stream at one named site of one or more layers:

    kind     "add" (x <- x + v), "ablate" (x <- x - r̂ r̂ᵀ x), "replace" (x <- v)
    site     "embed"      the embedding output (what block 0 reads; Gemma's is already scaled by sqrt(d))
             "block_in"   the input of block l (for l > 0 the same tensor as block l-1's output)
             "attn_out"   what block l's attention writes into the residual stream (after Gemma 3's post-attention norm)
             "mlp_out"    what block l's MLP writes into the residual stream (after Gemma 3's post-feedforward norm)
             "block_out"  the output of block l
    at       "all": every position of every forward pass (prompt and generated tokens);
             a tuple of prompt positions (0 = first prompt token, -1 = last), prompt pass only;
             "last" is (-1,), the last prompt token.

An `Intervention` is the tuple of edits one prompt (one batch row) gets; rows of a batch may carry
different interventions. Edits at one site apply in a fixed order: ablation, replacement, addition.

>>> v = torch.ones(4)
>>> add(v, layers=[3]).edits[0].site
'block_out'
>>> [e.site for e in ablate(v).edits]      # Arditi et al.: wherever the residual stream is written
['embed', 'attn_out', 'mlp_out']
>>> (add(v, [2], at="last") + ablate(v)).edits[0].at
(-1,)
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch  # the examples above use it
from jaxtyping import Float
from torch import Tensor

from ..errors import WorkbookError

KINDS = ("add", "ablate", "replace")
SITES = ("embed", "block_in", "attn_out", "mlp_out", "block_out")
ALL_LAYERS = None  # an edit's `layers` when it acts at every layer of the model


@dataclass(frozen=True, eq=False)
class Edit:
    """One operation at one site. `vector` [d]: the added vector, the ablated direction or the new state."""

    kind: str
    site: str
    vector: Float[Tensor, "d_model"]
    layers: tuple[int, ...] | None = ()  # block indices; ALL_LAYERS for every block; () for "embed"
    at: str | tuple[int, ...] = "all"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise WorkbookError(f"Unknown edit kind {self.kind!r}: use one of {', '.join(KINDS)}.")
        if self.site not in SITES:
            raise WorkbookError(f"Unknown edit site {self.site!r}: use one of {', '.join(SITES)}.")
        at = (-1,) if self.at == "last" else self.at
        if at != "all":
            if isinstance(at, str) or not all(isinstance(p, int) for p in at) or not at:
                raise WorkbookError(f"Unknown edit position {self.at!r}: use 'all', 'last' or a tuple of prompt positions (ints).")
            at = tuple(at)
        object.__setattr__(self, "at", at)
        if self.kind == "replace" and at == "all":
            raise WorkbookError("A replacement needs the prompt positions it replaces: pass at='last' or a tuple of positions.")
        if self.kind == "ablate" and at != "all":
            raise WorkbookError("Directional ablation acts at every position: leave at='all'.")
        layers = self.layers if self.layers is ALL_LAYERS else tuple(int(layer) for layer in self.layers)
        if self.site == "embed" and layers:
            raise WorkbookError("The embedding site has no layer: pass layers=().")
        if self.site != "embed" and layers == ():
            raise WorkbookError(f"An edit at {self.site!r} needs the layers it acts at: pass layers=[...] or ALL_LAYERS.")
        object.__setattr__(self, "layers", layers)
        if self.vector.dim() != 1:
            raise WorkbookError(f"An edit's vector must be one [d_model] vector, got shape {list(self.vector.shape)}: pass one row.")
        if self.kind == "ablate" and float(self.vector.norm()) == 0.0:
            raise WorkbookError("Cannot ablate a zero direction: pass a non-zero direction.")

    @property
    def prompt_only(self) -> bool:
        """Edits at given positions act on the prompt pass only; "all" edits act on every pass."""
        return self.at != "all"


@dataclass(frozen=True, eq=False)
class Intervention:
    """The edits one prompt's forward passes get (empty: the unsteered model)."""

    edits: tuple[Edit, ...] = ()

    def __add__(self, other: "Intervention") -> "Intervention":
        return Intervention(self.edits + other.edits)

    def __bool__(self) -> bool:
        return bool(self.edits)

    def key(self) -> tuple:
        """A hashable description of the edits, vectors by content: equal keys give equal forward passes."""
        return tuple((e.kind, e.site, e.layers, e.at, hashlib.sha1(e.vector.detach().float().cpu().numpy().tobytes()).hexdigest())
                     for e in self.edits)

    def touches_prefix(self, prefix_size: int, prompt_length: int) -> bool:
        """Whether the edits change the states of the first `prefix_size` tokens of a `prompt_length`-token prompt
        (a shared chat prefix). Negative positions count from the prompt's end."""
        return any(e.at == "all" or any(0 <= p % prompt_length < prefix_size for p in e.at) for e in self.edits)


NO_EDIT = Intervention()


def add(vector: Float[Tensor, "d_model"], layers, site: str = "block_out", at="all") -> Intervention:
    """`vector` added at `site` of each of `layers` (an int, a list, a range, or ALL_LAYERS).
    Seed 003's "every layer from l to the end" is `layers=range(l, n_layers)`."""
    layers = [layers] if isinstance(layers, int) else layers
    return Intervention((Edit("add", site, vector, () if site == "embed" else layers, at),))


def ablate(direction: Float[Tensor, "d_model"]) -> Intervention:
    """Arditi et al.'s directional ablation: r̂ projected out of the residual stream everywhere it is written
    (the embedding output, every attention output and every MLP output, at every position). Every block input,
    MLP input and block output is then a sum of terms orthogonal to r̂."""
    return Intervention(tuple(Edit("ablate", site, direction, () if site == "embed" else ALL_LAYERS)
                              for site in ("embed", "attn_out", "mlp_out")))


def ablate_at(direction: Float[Tensor, "d_model"], layers, site: str = "block_out") -> Intervention:
    """r̂ projected out at one site of `layers` only (e.g. the layer outputs, a weaker edit than `ablate`)."""
    layers = [layers] if isinstance(layers, int) else layers
    return Intervention((Edit("ablate", site, direction, () if site == "embed" else layers),))


def replace(state: Float[Tensor, "d_model"], layer: int | None, at, site: str = "block_out") -> Intervention:
    """The state at prompt positions `at` of `site` (at `layer`) replaced by `state` (Patchscopes; the
    verbalizer's placeholder embedding with site="embed", layer=None)."""
    return Intervention((Edit("replace", site, state, () if site == "embed" else [layer], at),))


def add_layers(vectors: dict[int, Float[Tensor, "d_model"]], site: str = "block_out", at="all") -> Intervention:
    """A different vector at each layer ({layer: vector}), e.g. a multi-layer spread."""
    return Intervention(tuple(edit for layer, v in vectors.items() for edit in add(v, layer, site, at).edits))


def add_rows(vectors: Float[Tensor, "n d_model"], layers, site: str = "block_out", at="all") -> list[Intervention]:
    """One Intervention per row of `vectors` [n, d]: prompt i gets vectors[i] (one vector per template)."""
    return [add(vector, layers, site, at) for vector in vectors]
