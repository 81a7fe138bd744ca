"""In-context tasks for function vectors: items, the eight template styles, and prompt building.

A template's `query` holds one `{input}` slot and ends where the answer begins; a demonstration is
`query(input) + " " + output`, and an N-shot prompt joins N demonstrations and the query.

>>> task = load_task("antonym")
>>> task.zero_shot("natural", "hot")
'The opposite of hot is'
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass

from .errors import WorkbookError
from .paths import DATA_DIR
from .prompts import fill_template, split_items

STYLES = ("natural", "symbolic", "functional", "verbose", "instruction", "qa", "roleplay", "formal")


@dataclass(frozen=True)
class Task:
    name: str
    source: str
    items: tuple[tuple[str, str], ...]  # (input, gold output)
    templates: dict[str, dict]  # style -> {"query": ..., "joiner": ...}

    def zero_shot(self, style: str, value: str) -> str:
        return fill_template(self.templates[style]["query"], value)

    def demonstration(self, style: str, item: tuple[str, str]) -> str:
        return f"{self.zero_shot(style, item[0])} {item[1]}"

    def few_shot(self, style: str, demos: list[tuple[str, str]], value: str) -> str:
        joiner = self.templates[style]["joiner"]
        return joiner.join([self.demonstration(style, d) for d in demos] + [self.zero_shot(style, value)])

    def splits(self, fractions: dict[str, float], seed: int = 0) -> dict[str, list[tuple[str, str]]]:
        return split_items(list(self.items), fractions, seed=seed)


def task_names() -> list[str]:
    return sorted(p.stem for p in (DATA_DIR / "tasks").glob("*.json"))


def load_task(name: str) -> Task:
    path = DATA_DIR / "tasks" / f"{name}.json"
    if not path.exists():
        raise WorkbookError(f"No task named {name!r}: use one of {', '.join(task_names())}.")
    data = json.loads(path.read_text())
    templates = {t["style"]: {"query": t["query"], "joiner": t["joiner"]} for t in data["templates"]}
    if tuple(templates) != STYLES:
        raise WorkbookError(f"Task {name!r} must have one template per style in the order {', '.join(STYLES)}: fix {path.name}.")
    for template in templates.values():
        fill_template(template["query"], "x")  # rejects a template without exactly one slot
    return Task(name, data["source"], tuple((i["input"], i["output"]) for i in data["items"]), templates)


def icl_prompt_sets(task: Task, style: str, pool: list[tuple[str, str]], n_prompts: int, n_shots: int, seed: int,
                    shuffle_labels: bool = False):
    """`n_prompts` (few-shot prompt, zero-shot prompt, gold) triples drawn from `pool` with a fixed seed.

    Each query item is different from its demonstrations; the zero-shot prompt asks the same query.
    `shuffle_labels=True` gives the same demonstrations and queries with the demonstrations' outputs permuted
    among them (Todd et al.'s corrupted prompts, on which a head's causal indirect effect is measured).
    """
    if len(pool) < n_shots + 1:
        raise WorkbookError(f"Task {task.name!r} has {len(pool)} items in this split, fewer than {n_shots} shots + 1: lower n_shots.")
    rng = random.Random(f"{task.name}/{style}/{seed}")
    triples = []
    for i in range(n_prompts):
        query = pool[i % len(pool)]
        demos = rng.sample([item for item in pool if item != query], n_shots)
        if shuffle_labels:  # its own generator: the demonstrations drawn stay those of the unshuffled prompts
            labels = [y for _, y in demos]
            random.Random(f"{task.name}/{style}/{seed}/shuffle/{i}").shuffle(labels)
            demos = [(x, y) for (x, _), y in zip(demos, labels)]
        triples.append((task.few_shot(style, demos, query[0]), task.zero_shot(style, query[0]), query[1]))
    return triples


def zero_shot_all_styles(task: Task, items: list[tuple[str, str]]) -> tuple[list[str], list[int]]:
    """Every item's zero-shot prompt in every template, style-major, with each prompt's style index:
    one batched pass scores all templates (view results as [..., len(STYLES), len(items)])."""
    prompts = [task.zero_shot(style, x) for style in STYLES for x, _ in items]
    return prompts, [si for si in range(len(STYLES)) for _ in items]


def answer_token(lm, gold: str) -> int:
    """The token a correct answer starts with where it follows a prompt (after a space): the first-token target."""
    return lm.tokenizer(" " + gold, add_special_tokens=False).input_ids[0]
