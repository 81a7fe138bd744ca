"""The two ways the engine reaches into a forward pass, both calling `sites.apply` on the same tensors:
raw PyTorch forward hooks (`hooked`, in this process) and nnsight traces (`edit_trace`, also on NDIF).

The generation loop runs several passes with one set of hooks (a shared prefix, the prompt, each
decode step); between passes it swaps the `EditSession`'s plan and layout, which the hooks read.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import LoadedModel
from .sites import EMBED, PassLayout, Plan, Point, apply, execution_key, module_at


@dataclass
class EditSession:
    """What the hooks apply in the pass being run: a plan per point and the pass's column layout."""

    plan: Plan
    layout: PassLayout


def output_tensor(output) -> torch.Tensor:
    """A module output's hidden states (decoder layers return a tuple in some versions, a tensor in others)."""
    return output[0] if isinstance(output, tuple) else output


def _with_tensor(output, hidden: torch.Tensor):
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


class hooked:
    """Context manager: forward hooks at `points` (default: the session's) applying the session's plan.
    Hooks are always removed, even when the forward pass fails."""

    def __init__(self, lm: LoadedModel, session: EditSession, points=None):
        self.lm, self.session, self.handles = lm, session, []
        self.points = sorted(set(session.plan if points is None else points), key=execution_key)

    def _hook(self, point: Point):
        session = self.session

        def hook(module, args, output):
            plan = session.plan.get(point)
            if plan is None:
                return None  # this pass edits nothing here
            return _with_tensor(output, apply(output_tensor(output), plan, session.layout))

        return hook

    def __enter__(self):
        self.lm.require_local("An intervention through forward hooks")
        for point in self.points:
            self.handles.append(module_at(self.lm, point).register_forward_hook(self._hook(point)))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


def edit_trace(lm: LoadedModel, plan: Plan, layout: PassLayout, read_layers=()) -> dict:
    """Inside an nnsight trace (or one generation step of it): apply `plan` at its points, in execution order,
    and save the block outputs of `read_layers` after the edits. Returns {layer: saved proxy}."""
    reads = set(read_layers)
    points = sorted(set(plan) | {("block", layer) for layer in reads}, key=execution_key)
    saved = {}
    for point in points:
        envoy = module_at(lm, point, nnsight=True)
        if point in plan:
            envoy.output = apply(envoy.output, plan[point], layout)
        if point != EMBED and point[0] == "block" and point[1] in reads:
            saved[point[1]] = envoy.output.save()
    return saved
