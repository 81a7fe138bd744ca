"""How many bytes a model's weights take at a precision: the codes as stored plus their quantization state (05's
memory claims). Counted from the loaded modules, so it is exact for the format, not a profile of the process.
"""
from __future__ import annotations

import torch


def weight_storage(weight: torch.Tensor) -> tuple[int, int]:
    """(entries, bytes) of one weight matrix as it sits in memory: the logical number of weights, and the bytes of
    its storage plus its quantization state (bitsandbytes NF4: per-block absmax and the 16-value codebook, nested
    state included; LLM.int8(): one fp32 scale per row). `get_memory_footprint` counts the packed storage only.

    >>> weight_storage(torch.zeros(4, 8, dtype=torch.bfloat16))
    (32, 64)
    """
    tensors = {id(weight): weight}
    state = getattr(weight, "quant_state", None)
    if state is not None:  # Params4bit: 4-bit codes packed two to a byte, the shape lives in the state
        entries = int(torch.Size(state.shape).numel())
        extra = [state.absmax, state.code, state.offset]
        nested = getattr(state, "state2", None)
        if nested is not None:
            extra += [nested.absmax, nested.code]
    else:
        entries, extra = weight.numel(), [getattr(weight, "SCB", None)]  # Int8Params: int8 codes and row scales
    tensors.update({id(t): t for t in extra if torch.is_tensor(t)})
    return entries, sum(t.numel() * t.element_size() for t in tensors.values())


def linear_weight_bytes(module: torch.nn.Module) -> dict[str, int]:
    """The weights of every linear layer inside `module` (e.g. a model's decoder blocks), biases apart: how many
    there are, the bytes they take at this precision (quantization state included) and what bf16 would take."""
    entries = stored = 0
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):  # bitsandbytes' Linear8bitLt and Linear4bit subclass it
            n, size = weight_storage(layer.weight)
            entries, stored = entries + n, stored + size
    return {"weights": entries, "bytes": stored, "bf16_bytes": 2 * entries}
