"""Load a model of the zoo (or a hub id) at a weight precision as an nnsight-wrapped transformers model.

Packaged GGUF weights are located without importing their carrier packages, assembled when
chunked, checked against the sha256 in the registry, de-quantized once by transformers and
cached as safetensors in a folder named after the file hash, so later loads skip GGUF entirely.

    lm = load_model("smollm2-135m")                        # first call ~20 s, later calls ~1 s
    lm.n_layers, lm.d_model                                # (30, 576)
    lm = load_model("qwen2.5-0.5b", precision="bnb-nf4")   # any name of lib.precisions.PRECISIONS
"""
from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .artifacts import atomic_path
from .errors import WorkbookError
from .hashing import file_sha256
from .paths import cache_dir
from .precisions import after_loading, check_precision, loading_options
from .registry import ModelSpec, resolve

@dataclass
class LoadedModel:
    """A loaded model with everything the notebooks need to address it."""

    spec: ModelSpec
    hf: torch.nn.Module  # the transformers model (raw hooks attach here)
    tokenizer: object
    nn: object  # nnsight TransformersModel wrapping `hf`
    precision: str  # a name of lib.precisions.PRECISIONS

    @property
    def remote(self) -> bool:
        """True when nnsight traces run on NDIF; `hf` then holds meta tensors and cannot run here."""
        return self.spec.remote

    def require_local(self, what: str) -> None:
        """Fail clearly when `what` would run the model in this process while it lives on NDIF."""
        if self.remote:
            raise WorkbookError(
                f"{what} runs {self.key} in this process, which cannot run a remote (NDIF) model: "
                f"use the nnsight backend, or load the model with remote=False on a machine that holds it."
            )

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def n_layers(self) -> int:
        return self.hf.config.num_hidden_layers

    @property
    def d_model(self) -> int:
        return self.hf.config.hidden_size

    @property
    def layers(self) -> torch.nn.ModuleList:
        """The decoder layers of the raw model; their outputs are the residual stream."""
        return self.hf.model.layers

    @property
    def nn_layers(self):
        """The same decoder layers as nnsight envoys."""
        return self.nn.model.layers

    def check_layers(self, layers) -> list[int]:
        """Validate layer indices (negative ones count from the end) and return them as non-negative ints."""
        resolved = []
        for layer in layers:
            if not -self.n_layers <= int(layer) < self.n_layers:
                raise WorkbookError(
                    f"Layer {layer} is out of range for {self.key}, which has {self.n_layers} layers: "
                    f"use an index from 0 to {self.n_layers - 1}."
                )
            resolved.append(int(layer) % self.n_layers)
        return resolved


def locate_chunks(spec: ModelSpec) -> list[Path]:
    """Paths of the installed weight chunks, found with find_spec so no carrier package is imported."""
    paths = []
    for chunk in spec.chunks:
        found = importlib.util.find_spec(chunk.module)
        if found is None or not found.submodule_search_locations:
            raise WorkbookError(
                f"The weights of {spec.key} are not installed (package {chunk.pip_name.split('==')[0]} is missing): "
                f"run `make models` or `{spec.pip_install}`."
            )
        path = Path(list(found.submodule_search_locations)[0]) / chunk.relative_path
        if not path.is_file():
            raise WorkbookError(f"Weight file {path} of {spec.key} is missing: reinstall it with `{spec.pip_install}`.")
        paths.append(path)
    return paths


def verify_sha256(path: Path, expected: str, spec: ModelSpec) -> None:
    got = file_sha256(path)
    if got != expected:
        raise WorkbookError(
            f"Checksum mismatch for {path}: expected sha256 {expected}, got {got}; "
            f"reinstall the weights with `{spec.pip_install} --force-reinstall`."
        )


def gguf_file(spec: ModelSpec) -> Path:
    """The verified GGUF file of a packaged model, concatenating chunks into the cache when needed."""
    chunks = locate_chunks(spec)
    if len(chunks) == 1:
        verify_sha256(chunks[0], spec.sha256, spec)
        return chunks[0]
    target = cache_dir() / "gguf" / spec.sha256[:16] / spec.gguf_name
    if not target.exists():
        with atomic_path(target) as tmp:  # a failed checksum deletes the joined file instead of leaving it in the cache
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    with open(chunk, "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 24)
            verify_sha256(tmp, spec.sha256, spec)
    return target


def dequantized_dir(spec: ModelSpec) -> Path:
    """Cache folder of the de-quantized safetensors, keyed by the GGUF hash (new weights, new folder)."""
    return cache_dir() / "models" / f"{spec.key}-{spec.sha256[:16]}"


def _build_dequantized_cache(spec: ModelSpec, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_file(spec)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a GGUF-quantized model; the weights are plain fp32 tensors by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_path(target, folder=True) as staging:  # a failed build leaves nothing behind
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def pick_device(device: str) -> str:
    """The device to load on: "auto" means CUDA when present, else CPU; anything else is passed through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_model(key: str, precision: str = "fp32", device: str = "cpu", remote: bool = False) -> LoadedModel:
    """A zoo key or hub id at a weight `precision` (lib.precisions), wrapped for nnsight, with a left-padding tokenizer.

    Every precision loads the weights once: from the de-quantized cache of a packaged model (built on first use)
    or from the hub. `LoadedModel.precision` carries the name, so results can be labelled with it.
    remote=True (hub ids only) builds the model on the meta device and runs every nnsight trace on NDIF, at
    NDIF's precision: only "fp32" (the reference) applies (NDIF_API_KEY must be set).
    """
    from transformers import AutoModelForCausalLM

    check_precision(precision, device)
    spec = resolve(key, remote=remote)
    if remote:
        if precision != "fp32":
            raise WorkbookError(
                f"Precision {precision!r} changes weights on this machine, but a remote model's weights stay on NDIF: "
                f"use precision 'fp32' with remote=True, or remote=False with local weights."
            )
        return _remote_model(spec)
    source = dequantized_weights(spec) if spec.is_packaged else spec.hub_id
    hf = AutoModelForCausalLM.from_pretrained(source, device_map=pick_device(device), **loading_options(precision))
    after_loading(hf, precision)
    return wrap(spec, hf, source, precision)


def dequantized_weights(spec: ModelSpec) -> Path:
    """The de-quantized safetensors folder of a packaged model, built from its GGUF file on first use."""
    target = dequantized_dir(spec)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _build_dequantized_cache(spec, target)
    return target


def load_tokenizer(spec: ModelSpec):
    """A model's left-padding tokenizer without its weights: a packaged model's from its de-quantized folder (built on
    first use), a hub model's from the hub."""
    from transformers import AutoTokenizer

    return left_padding(AutoTokenizer.from_pretrained(dequantized_weights(spec) if spec.is_packaged else spec.hub_id))


def wrap(spec: ModelSpec, hf: torch.nn.Module, source, precision: str) -> LoadedModel:
    """A loaded transformers model with its left-padding tokenizer and nnsight wrapper."""
    from nnsight import TransformersModel
    from transformers import AutoTokenizer

    hf.eval()
    tokenizer = left_padding(AutoTokenizer.from_pretrained(source))
    return LoadedModel(spec=spec, hf=hf, tokenizer=tokenizer, nn=TransformersModel(hf, tokenizer=tokenizer), precision=precision)


def left_padding(tokenizer):
    """Pad on the left, so position -1 is the last real token of every prompt; EOS pads where no pad token exists."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _remote_model(spec: ModelSpec) -> LoadedModel:
    """An undispatched nnsight model (config and tokenizer from the hub, no weights) whose traces run on NDIF."""
    from nnsight import LanguageModel

    nn_model = LanguageModel(spec.hub_id, dtype=torch.float32, dispatch=False)
    tokenizer = left_padding(nn_model.tokenizer)
    return LoadedModel(spec=spec, hf=nn_model._model, tokenizer=tokenizer, nn=nn_model, precision="fp32")
