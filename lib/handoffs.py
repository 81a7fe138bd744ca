"""What one notebook hands to the next, written and read by what it holds: no artifact path is typed in a notebook.

    producer   artifact             writer / reader
    01         splits               save_splits / load_splits                  (prompt splits of the refusal sets)
    01         model facts          save_model_facts / load_model_facts        (layers, d_model, parameters per model)
    01         residual norms       load_residual_norms                        (mean norm per layer, first token apart)
    01         refusal candidates   save_refusal_candidates / load_refusal_candidates   (DIM per layer x position)
    01         style vectors        save_style_vectors / load_style_vectors    (ActAdd per axis x recipe x layer)
    01         task vectors         save_task_vectors / load_task_vectors, has_task_vectors   (mean difference, seed 001)
    01         function vectors     save_function_vectors / load_function_vectors, has_function_vectors   (Todd et al.)
    02         IID gate             save_iid_gate / load_iid_gate              (chosen layer and strength per task)
    04         refusal judge        save_refusal_judge / load_refusal_judge    (the primary judge, chosen on over-refusal dev)
    04         chosen settings      save_chosen_settings / load_chosen_settings (layer, position, α per method)

Readers take a notebook's outputs from the output root when it ran there, else from the committed results, so a
rerun of one notebook into the scratch folder reads what the notebooks before it committed. Each reader fails with one sentence naming
the notebook to run when its artifact is in neither place.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .artifacts import write_csv, write_json
from .directions import has_directions, load_directions, save_directions
from .errors import WorkbookError
from .paths import committed_results_dir, results_dir

EXTRACTION, IID, SCALING = "01_extraction", "02_iid_check", "04_scaling"


def _source(notebook: str, name: str) -> Path:
    """results/<notebook>/<name> from the output root when that notebook ran there, else the committed one (never a
    mix of the two runs); an error naming the fix when the file is missing."""
    folder = results_dir(notebook) if results_dir(notebook).exists() else committed_results_dir(notebook)
    if not (folder / name).exists():
        raise WorkbookError(f"No {folder / name}: run notebook {notebook} first (make paper).")
    return folder / name


def _read_json(notebook: str, name: str) -> dict:
    return json.loads(_source(notebook, name).read_text())


def _stem(key: str, kind: str, reading: bool = True) -> Path:
    folder = "function_vectors" if kind in ("fv", "todd_fv") else "directions"
    name = f"{folder}/{key}_{kind}"
    if not reading:
        return results_dir(EXTRACTION) / name
    try:
        return _source(EXTRACTION, f"{name}.safetensors").with_suffix("")
    except WorkbookError:
        return results_dir(EXTRACTION) / name  # load_directions names the notebook to run


def save_splits(splits: dict) -> None:
    write_json(results_dir(EXTRACTION) / "splits.json", splits)


def load_splits() -> dict:
    """{"harmful" | "harmless": {"train" | "val" | "test": [instructions]}}."""
    return _read_json(EXTRACTION, "splits.json")


def save_model_facts(models: dict, timings: dict) -> None:
    write_json(results_dir(EXTRACTION) / "models.json", {"models": models, "timings": timings})


def load_model_facts() -> dict:
    """{model key: {"n_layers", "d_model", "n_params", ...}} as 01 recorded them."""
    return _read_json(EXTRACTION, "models.json")["models"]


def load_residual_norms():
    """01's per-prompt residual norms on harmless prompts (norm_profile.csv): model, layer, first, rest, all."""
    import pandas as pd

    return pd.read_csv(_source(EXTRACTION, "norm_profile.csv"))


def save_refusal_candidates(key: str, tensors: dict[str, torch.Tensor], sidecar: dict) -> None:
    save_directions(_stem(key, "refusal_dim", reading=False), tensors, sidecar)


def load_refusal_candidates(key: str) -> tuple[dict[str, torch.Tensor], dict]:
    """({"candidates": [layers, positions, d], "mean_harmful_last": [layers, d], "mean_harmless_last": [layers, d]}, sidecar)."""
    return load_directions(_stem(key, "refusal_dim"))


def save_style_vectors(key: str, tensors: dict[str, torch.Tensor], sidecar: dict) -> None:
    save_directions(_stem(key, "style_actadd", reading=False), tensors, sidecar)


def load_style_vectors(key: str) -> tuple[dict[str, torch.Tensor], dict]:
    """({"<axis>/<recipe>": [layers, d]}, sidecar)."""
    return load_directions(_stem(key, "style_actadd"))


def save_task_vectors(key: str, tensors: dict[str, torch.Tensor], sidecar: dict) -> None:
    save_directions(_stem(key, "fv", reading=False), tensors, sidecar)


def has_task_vectors(key: str) -> bool:
    return has_directions(_stem(key, "fv"))


def load_task_vectors(key: str) -> tuple[dict[str, torch.Tensor], dict]:
    """({task: [templates, layers, d]}, sidecar): 01's mean-difference task vectors."""
    return load_directions(_stem(key, "fv"))


def save_function_vectors(key: str, vectors: dict[str, torch.Tensor], cie: dict[str, torch.Tensor], sidecar: dict) -> None:
    """Todd et al.'s vectors {task: [templates, d]} and each task's mean indirect effects {task: [layers, heads]}; a
    template without a vector (NaN rows: no prompt answered correctly) is stored as zeros with a mask."""
    tensors = {}
    for task, v in vectors.items():
        valid = ~v.isnan().any(-1)
        tensors[f"vectors/{task}"], tensors[f"cie/{task}"] = v.nan_to_num(0.0), cie[task].nan_to_num(0.0)
        tensors[f"valid/{task}"] = valid.float()
    save_directions(_stem(key, "todd_fv", reading=False), tensors, sidecar)


def has_function_vectors(key: str) -> bool:
    return has_directions(_stem(key, "todd_fv"))


def load_function_vectors(key: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict]:
    """({task: [templates, d]}, {task: [layers, heads]}, sidecar): 01's Todd function vectors (NaN rows where a template
    has no vector) and each task's mean causal indirect effect of every head (NaN where no template has one)."""
    tensors, sidecar = load_directions(_stem(key, "todd_fv"))
    tasks = [name.split("/", 1)[1] for name in tensors if name.startswith("vectors/")]
    invalid = {t: tensors[f"valid/{t}"] == 0 for t in tasks}
    vectors = {t: tensors[f"vectors/{t}"].masked_fill(invalid[t][:, None], float("nan")) for t in tasks}
    cie = {t: tensors[f"cie/{t}"] if (~invalid[t]).any() else torch.full_like(tensors[f"cie/{t}"], float("nan")) for t in tasks}
    return vectors, cie, sidecar


def save_iid_gate(gate: dict) -> None:
    write_json(results_dir(IID) / "iid_gate.json", gate)


def load_iid_gate() -> dict:
    """{"gate", "passing": {model: [tasks]}, "chosen": {model: {task: {"layer", "strength"}}}, ...}."""
    return _read_json(IID, "iid_gate.json")


def save_refusal_judge(judge: str, dev_accuracy) -> None:
    write_json(results_dir(SCALING) / "refusal_judge.json", {"judge": judge, "dev_accuracy": dev_accuracy.to_dict("records")})


def load_refusal_judge() -> str:
    """The name of 04's primary refusal judge (a key of lib.judges.JUDGES)."""
    return _read_json(SCALING, "refusal_judge.json")["judge"]


def save_chosen_settings(frame) -> None:
    write_csv(results_dir(SCALING) / "chosen.csv", frame)


def load_chosen_settings():
    """04's chosen (layer, position, α) per model and method, as a DataFrame."""
    import pandas as pd

    return pd.read_csv(_source(SCALING, "chosen.csv"))
