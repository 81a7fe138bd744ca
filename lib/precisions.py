"""The weight precisions a model can be loaded at (`lib.models.load_model(key, precision=...)`), so any notebook can
compare them.

| precision      | what it is                                                                  |
|----------------|-----------------------------------------------------------------------------|
| `fp32`         | the reference: the zoo's GGUF weights de-quantized to fp32                   |
| `bf16`         | bf16 weights and bf16 compute (torch); slow on CPUs without bf16 matmul      |
| `fp16`         | fp16 weights and compute (torch); for GPUs                                   |
| `bf16-weights` | every weight matrix rounded to bf16, computed in fp32 (bf16 storage only)    |
| `bnb-int8`     | bitsandbytes LLM.int8() linear layers (`BitsAndBytesConfig(load_in_8bit)`)   |
| `bnb-nf4`      | bitsandbytes 4-bit NormalFloat linear layers, fp32 compute                   |
| `gguf-q8_0`    | every weight matrix rounded through GGUF Q8_0 with the `gguf` package        |
| `gguf-q4_0`    | the same through Q4_0 (llama.cpp `llama-quantize --pure` round trip)         |

The round trips (`bf16-weights`, `gguf-*`) quantize each 2-D weight (linear layers, embeddings)
along its rows, exactly as the format stores it, and de-quantize it back to fp32 in place: the
model then computes with exactly the values a llama.cpp user's file holds. Norm weights and
biases stay fp32, as llama.cpp keeps them. bitsandbytes quantizes the linear layers of the
decoder and leaves embeddings and the output head in fp32 (transformers' default).

    lm = load_model("smollm2-135m", precision="gguf-q4_0")      # lm.precision == "gguf-q4_0"
"""
from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .errors import WorkbookError


@dataclass(frozen=True)
class Precision:
    name: str
    description: str
    bits_per_weight: float  # storage cost of a weight matrix entry, block scales included
    library: str  # the Python package that implements it ("torch" needs nothing extra)
    pip_name: str = ""  # what to install when `library` is missing


PRECISIONS: dict[str, Precision] = {
    p.name: p
    for p in [
        Precision("fp32", "fp32 weights and compute (the de-quantized reference)", 32, "torch"),
        Precision("bf16", "bf16 weights and compute", 16, "torch"),
        Precision("fp16", "fp16 weights and compute (for GPUs)", 16, "torch"),
        Precision("bf16-weights", "weights rounded to bf16, fp32 compute", 16, "torch"),
        Precision("bnb-int8", "bitsandbytes LLM.int8() linear layers", 8, "bitsandbytes", "bitsandbytes==0.50.2"),
        Precision("bnb-nf4", "bitsandbytes NF4 linear layers (block 64), fp32 compute", 4.5, "bitsandbytes", "bitsandbytes==0.50.2"),
        Precision("gguf-q8_0", "GGUF Q8_0 round trip of every weight matrix", 8.5, "gguf", "gguf"),
        Precision("gguf-q4_0", "GGUF Q4_0 round trip of every weight matrix", 4.5, "gguf", "gguf"),
    ]
}
GGUF_TYPES = {"gguf-q8_0": "Q8_0", "gguf-q4_0": "Q4_0"}


def check_precision(name: str, device: str = "cpu") -> Precision:
    """The Precision for `name`, or a one-sentence error saying why it cannot run here and what to do."""
    if name not in PRECISIONS:
        raise WorkbookError(f"Unknown precision {name!r}: use one of {', '.join(PRECISIONS)}.")
    precision = PRECISIONS[name]
    if precision.library != "torch" and importlib.util.find_spec(precision.library) is None:
        raise WorkbookError(
            f"Precision {name!r} needs the {precision.library} package, which is not installed: "
            f"run `make setup` (or `pip install {precision.pip_name}`), or leave {name!r} out of `precisions`."
        )
    if name == "bf16" and device == "cpu":
        warnings.warn("bf16 compute is several times slower than fp32 on most CPUs; 'bf16-weights' rounds the "
                      "weights to bf16 and computes in fp32.", stacklevel=3)
    return precision


def loading_options(name: str) -> dict:
    """Keyword arguments of `from_pretrained` that load weights at precision `name` (dtype, quantization_config)."""
    if name == "bf16":
        return {"dtype": torch.bfloat16}
    if name == "fp16":
        return {"dtype": torch.float16}
    if name == "bnb-int8":
        from transformers import BitsAndBytesConfig

        # LLM.int8() casts fp32 inputs to fp16 and logs it on every call; the cast is part of the method.
        logging.getLogger("bitsandbytes.autograd._functions").addFilter(_drop_int8_cast_notice)  # added once
        return {"dtype": torch.float32, "quantization_config": BitsAndBytesConfig(load_in_8bit=True)}
    if name == "bnb-nf4":
        from transformers import BitsAndBytesConfig

        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32)
        return {"dtype": torch.float32, "quantization_config": config}
    return {"dtype": torch.float32}  # fp32, and the round trips, which start from fp32 weights


def after_loading(model: torch.nn.Module, name: str) -> None:
    """What a precision does to the weights once they are loaded: the round trips quantize them in place."""
    if name == "bf16-weights" or name in GGUF_TYPES:
        round_trip_weights(model, name)


def _drop_int8_cast_notice(record: logging.LogRecord) -> bool:
    return "inputs will be cast" not in record.getMessage()


def weight_matrices(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """Every 2-D weight of a linear or embedding layer, each shared (tied) tensor once."""
    found, seen = {}, set()
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)) and weight is not None and weight.ndim == 2:
            if id(weight) not in seen:
                seen.add(id(weight))
                found[f"{name}.weight"] = weight
    return found


def round_trip(matrix: torch.Tensor, precision: str) -> torch.Tensor:
    """`matrix` quantized to `precision` along its rows and de-quantized back (same shape and dtype)."""
    if precision == "bf16-weights":
        return matrix.to(torch.bfloat16).to(matrix.dtype)
    if precision not in GGUF_TYPES:
        raise WorkbookError(f"Precision {precision!r} is not a weight round trip: use one of bf16-weights, {', '.join(GGUF_TYPES)}.")
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    qtype = GGMLQuantizationType[GGUF_TYPES[precision]]
    block, _ = GGML_QUANT_SIZES[qtype]
    if matrix.shape[-1] % block:
        raise WorkbookError(
            f"A weight with rows of {matrix.shape[-1]} values cannot be stored as {GGUF_TYPES[precision]}, whose blocks "
            f"hold {block}: use a bitsandbytes precision for this model instead."
        )
    values = matrix.detach().float().cpu().numpy()
    restored = dequantize(quantize(values, qtype), qtype)
    return torch.from_numpy(restored).to(matrix.device, matrix.dtype)


@torch.no_grad()
def round_trip_weights(model: torch.nn.Module, precision: str, progress: bool = False) -> dict[str, float]:
    """Round-trip every weight matrix of `model` in place; returns each one's relative error (Frobenius)."""
    errors = {}
    for name, weight in tqdm(weight_matrices(model).items(), desc=f"round trip {precision}", disable=not progress, leave=False):
        restored = round_trip(weight.data, precision)
        errors[name] = float((restored - weight.data).norm() / weight.data.norm().clamp_min(1e-12))
        weight.data.copy_(restored)
    return errors
