"""The scaffold every notebook stands on, so a notebook holds its argument and not its plumbing.

`start` does what every notebook's first cell did (seeds, deterministic algorithms, plotting style, the results
folder, the notebook's macro file) and switches on the cache of finished units (`lib.unitcache`), so a killed run
resumes; `Notebook.models` loads each model in turn, hands it to the loop body and frees it afterwards;
`Notebook.finish` writes the claims, the macros and what the cache loaded and computed (for the runner's manifest).

    nb = notebook.start("02_iid_check", prefix="Iid", seed=seed)
    for key, lm in nb.models(model_keys, precision=precision, device=device, remote=remote):
        ...                      # lm is freed when the body is done with it, even if the body keeps a reference
    nb.finish(claims)
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from tqdm.auto import tqdm

from . import artifacts, plotting, registry, unitcache
from .models import LoadedModel, load_model
from .paths import UNIT_CACHE_TALLY, results_dir


@dataclass
class Notebook:
    name: str
    seed: int
    macros: artifacts.Macros
    load_seconds: dict = field(default_factory=dict)  # model key -> seconds its load took in `models`

    @property
    def out(self) -> Path:
        """results/<notebook>/ (under the output root)."""
        return results_dir(self.name)

    def models(self, keys, load: Callable[..., LoadedModel] = load_model, **load_kwargs) -> Iterator[tuple[str, LoadedModel]]:
        """(key, model) for each of `keys`, loaded with `load(key, **load_kwargs)` and released once the loop body is
        done with it: at most one model is held. `load` can be any loader (e.g. one precision after another).

        A progress bar over the whole loop gives its ETA: its units are parameters, since a model's work grows with its
        size, so the estimate after a small model does not promise a large one at the small one's speed."""
        keys = list(keys)
        # zoo models by parameter count; anything else (a hub id, 05's precisions of one model) counts as one unit
        size = {key: registry.ZOO[key].n_params if key in registry.ZOO else 1 for key in keys}
        with tqdm(total=sum(size.values()), desc=f"{self.name}: models", unit="param", unit_scale=True) as bar:
            for key in keys:
                bar.set_postfix_str(key)
                started = time.perf_counter()
                lm = load(key, **load_kwargs)
                self.load_seconds[key] = time.perf_counter() - started
                try:
                    yield key, lm
                finally:
                    release(lm)
                    bar.update(size[key])

    def finish(self, claims: list[artifacts.Claim] | None = None) -> None:
        """Write the notebook's claims (when it tests any) and its macros for the paper."""
        if claims is not None:
            artifacts.write_claims(self.name, claims)
        self.macros.write()
        artifacts.write_json(self.out / UNIT_CACHE_TALLY, unitcache.tally())  # hidden: the runner moves it into the manifest


def release(lm: LoadedModel) -> None:
    """Drop a model's weights now, even while other names still refer to the LoadedModel."""
    lm.hf = lm.nn = None
    gc.collect()


def start(name: str, prefix: str, seed: int = 0) -> Notebook:
    """Seeds, deterministic algorithms and the plotting style set; the results folder made; an empty macro file."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    plotting.setup()
    unitcache.enable()
    results_dir(name).mkdir(parents=True, exist_ok=True)
    return Notebook(name, seed, artifacts.Macros(name, prefix=prefix))
