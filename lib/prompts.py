"""Prompt data and formatting: shipped prompt sets, seeded splits, chat templates, task templates.

>>> split_items(list(range(10)), {"train": 0.6, "test": 0.4}, seed=0)["test"]
[2, 0, 9, 6]
"""
from __future__ import annotations

import hashlib
import json
import random
import string

from .errors import WorkbookError
from .paths import DATA_DIR

INSTRUCTION_MARKER = "\x00INSTRUCTION\x00"


def load_prompt_set(name: str) -> dict:
    """A shipped prompt set `lib/data/prompts/<name>.json`: {"source": ..., "items": [...]}."""
    path = DATA_DIR / "prompts" / f"{name}.json"
    if not path.exists():
        known = sorted(p.stem for p in (DATA_DIR / "prompts").glob("*.json"))
        raise WorkbookError(f"No prompt set named {name!r}: use one of {', '.join(known)}.")
    data = json.loads(path.read_text())
    require_prompts(data["items"], f"prompt set {name!r}")
    return data


def require_prompts(prompts, what: str = "prompt list") -> list[str]:
    """Reject an empty prompt list before it reaches a forward pass."""
    prompts = list(prompts)
    if not prompts:
        raise WorkbookError(f"The {what} is empty: pass at least one prompt.")
    return prompts


def content_hash(items) -> str:
    """Short hash of a JSON-serializable object, recorded next to every direction derived from it."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]


def split_items(items: list, fractions: dict[str, float], seed: int = 0) -> dict[str, list]:
    """Shuffle with a fixed seed and cut into named splits in the given order (last split takes the rest)."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    names = list(fractions)
    splits, start = {}, 0
    for i, name in enumerate(names):
        stop = len(shuffled) if i == len(names) - 1 else start + round(fractions[name] * len(shuffled))
        splits[name] = shuffled[start:stop]
        start = stop
    return splits


def format_instruction(lm, instruction: str, system: str | None = None) -> str:
    """The prompt a model sees for a user instruction: its chat template, or a Q/A frame for base models.

    `system`, when given, is the system message (it replaces a template's default one, e.g. Qwen's); a base model
    reads it as a line before the question."""
    if lm.spec.instruct and lm.tokenizer.chat_template:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": instruction}]
        return lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return (f"{system}\n\n" if system else "") + f"Question: {instruction}\nAnswer:"


def post_instruction_suffix(lm) -> str:
    """The template text that follows the instruction (e.g. `<|im_end|>\\n<|im_start|>assistant\\n`)."""
    return format_instruction(lm, INSTRUCTION_MARKER).split(INSTRUCTION_MARKER, 1)[1]


def n_post_instruction_tokens(lm) -> int:
    """How many tokens the template puts after the instruction: Arditi et al.'s candidate positions."""
    return len(lm.tokenizer(post_instruction_suffix(lm), add_special_tokens=False).input_ids)


def fill_template(template: str, value: str, slot: str = "input") -> str:
    """Put `value` into the single `{input}` slot of a task template; reject templates without exactly one."""
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    if fields != [slot]:
        raise WorkbookError(
            f"Template {template!r} must contain exactly one {{{slot}}} slot and no other fields (found {fields}): "
            f"add the slot where the task input goes."
        )
    return template.format(**{slot: value})
