"""Writing results so a killed run never leaves a file that looks complete.

Every write goes to a temporary file in the target folder and is renamed into place. Paper
numbers are LaTeX macros (`\\ExtractionSmolFirstTokenRatio`) collected per notebook in
`paper/generated/<notebook>.tex`; seed claims go to `results/<notebook>/claims.json`.

>>> tex_name("qwen2.5-0.5b")
'QwenTwoFiveZeroFiveB'
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from . import verdicts
from .errors import WorkbookError
from .paths import generated_dir, results_dir
from .verdicts import VERDICTS, Rule  # noqa: F401 - re-exported: notebooks and tests read them from here
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_DIGITS = "Zero One Two Three Four Five Six Seven Eight Nine".split()


@contextmanager
def atomic_path(path: Path, folder: bool = False):
    """A hidden temporary file (or folder) beside `path` for any writer to fill; renamed onto `path` when the block
    succeeds, deleted when it fails, so no reader ever sees a half-written file and no failure leaves one behind.

    >>> with atomic_path(Path(tempfile.mkdtemp()) / "figure.png") as tmp:
    ...     _ = tmp.write_bytes(b"png")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    else:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(handle)
        tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, (0o777 if folder else 0o666) & ~_UMASK)  # temp files are private; results are ordinary files
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def _check_finite(obj, where="result"):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise WorkbookError(f"Non-finite number in {where}: fix the computation that produced it before saving.")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_finite(value, f"{where}.{key}")
    if isinstance(obj, (list, tuple)):
        for value in obj:
            _check_finite(value, where)


def write_json(path: Path, obj, allow_nan: bool = False) -> Path:
    """Deterministic JSON (sorted keys); NaN and inf are refused unless explicitly allowed."""
    if not allow_nan:
        _check_finite(obj, Path(path).name)
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=allow_nan) + "\n")


def write_csv(path: Path, frame) -> Path:
    return atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def tex_name(text: str) -> str:
    """Letters-only CamelCase for a LaTeX macro name; digits are spelled out."""
    words = re.split(r"[^A-Za-z0-9]+", text)
    out = []
    for word in words:
        for piece in re.findall(r"[A-Za-z]+|\d", word):
            out.append(_DIGITS[int(piece)] if piece.isdigit() else piece[0].upper() + piece[1:])
    return "".join(out)


def tex_escape(text: str) -> str:
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(replacements.get(ch, ch) for ch in str(text))


def counted(n: int, noun: str) -> str:
    """'1 cell' or '3 cells': prose that reads right for any number (regular plurals)."""
    return f"{n} {noun}{'s' * (n != 1)}"


def counted_list(items, noun: str = "model") -> str:
    """'1 model (a)' or '3 models (a, b, c)': paper prose that reads right for any number of models."""
    items = list(items)
    return f"{counted(len(items), noun)} ({', '.join(map(str, items))})"


class Macros:
    """Collects `\\newcommand`s for one notebook and writes them to paper/generated/<notebook>.tex."""

    def __init__(self, notebook: str, prefix: str):
        self.notebook, self.prefix, self.values = notebook, prefix, {}

    def add(self, name: str, value, fmt: str = "{:.2f}", missing: str | None = None) -> str:
        """Define \\<prefix><Name> as `value` formatted by `fmt`. A non-finite number is an error, unless `missing`
        says what the paper prints for a quantity that does not exist in this run (e.g. "n/a": no valid pick)."""
        macro = self.prefix + tex_name(name)
        if not re.fullmatch(r"[A-Za-z]+", macro):
            raise WorkbookError(f"Macro name {macro!r} must be letters only: rename it.")
        if isinstance(value, float) and not math.isfinite(value):
            if missing is None:
                raise WorkbookError(f"Macro {macro} would be {value}: fix the computation before writing the paper.")
            value = missing
        self.values[macro] = fmt.format(value) if isinstance(value, (int, float)) else tex_escape(value)
        return macro

    def write(self) -> Path:
        lines = [f"% Generated by notebooks/{self.notebook}.py; do not edit."]
        lines += [f"\\newcommand{{\\{name}}}{{{value}}}" for name, value in sorted(self.values.items())]
        return atomic_write_text(generated_dir() / f"{self.notebook}.tex", "\n".join(lines) + "\n")


@dataclass
class Claim:
    """One seed claim, with the evidence and the verdict its decision rule gives (lib.verdicts). Build it with
    `Claim.tested` (the rule, fixed before the run, decides) or `Claim.not_testable` (a precondition failed: no value);
    a record whose verdict its rule and interval do not carry is rejected here and again by the ledger writer."""

    id: str
    seed: str
    claim: str
    seed_value: str
    value_here: float
    n: int
    ci_low: float
    ci_high: float
    verdict: str
    note: str = ""
    precondition: str = ""  # what must hold for the claim to be testable here
    precondition_held: bool = True
    rule: Rule | None = None
    rule_text: str = ""
    mde: float | None = None  # smallest distance from the null these data detect (80 % power, two-sided 5 %)
    power: float | None = None  # power against the seed's effect, where the seed gives one on this scale

    def __post_init__(self):
        if self.rule is not None:
            self.rule_text = self.rule.text()
        self.check()

    def check(self) -> None:
        verdicts.check_verdict(self.id, self.verdict, self.value_here, self.n, self.ci_low, self.ci_high, self.rule,
                               self.precondition_held)

    @classmethod
    def tested(cls, id: str, seed: str, claim: str, seed_value: str, value: float, n: int, low: float, high: float,
               rule: Rule, precondition: str = "", note: str = "") -> "Claim":
        """A claim tested here: the verdict is the one `rule` gives on the 95 % interval [low, high]."""
        return cls(id, seed, claim, seed_value, float(value), int(n), float(low), float(high), rule.verdict(low, high),
                   note, precondition, True, rule, mde=verdicts.minimum_detectable_effect(low, high),
                   power=verdicts.power_against(rule, low, high))

    @classmethod
    def not_testable(cls, id: str, seed: str, claim: str, seed_value: str, reason: str, precondition: str = "") -> "Claim":
        """A claim whose precondition fails here: no value, no n, no interval, and the reason as its note."""
        return cls(id, seed, claim, seed_value, math.nan, 0, math.nan, math.nan, verdicts.NOT_TESTABLE, reason,
                   precondition or reason, False)


def _empty_when_missing(record: dict) -> dict:
    """A record for JSON with each missing number (NaN) as null: an untestable claim has no value, not a placeholder."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}


def write_claims(notebook: str, claims: list[Claim]) -> Path:
    """The claims ledger: every record is checked against its rule once more, so none that breaks one is written."""
    for claim in claims:
        claim.check()
    if len({c.id for c in claims}) != len(claims):
        raise WorkbookError(f"Two claims of {notebook} share an id: give each claim its own.")
    return write_json(results_dir(notebook) / "claims.json", [_empty_when_missing(asdict(c)) for c in claims])


DEFECT_FINDINGS = ("present here", "not present here")


@dataclass
class Defect:
    """A defect of a seed's code (not a claim of the seed), with the check that looks for it in the workbook."""

    id: str
    seed: str
    defect: str  # what the seed's code did
    check: str  # what is measured here
    value: float
    n: int
    ci_low: float
    ci_high: float
    finding: str

    def __post_init__(self):
        if self.finding not in DEFECT_FINDINGS:
            raise WorkbookError(f"Finding {self.finding!r} of defect {self.id} is not one of {', '.join(DEFECT_FINDINGS)}.")


def write_defects(notebook: str, defects: list[Defect]) -> Path:
    return write_json(results_dir(notebook) / "defects.json", [_empty_when_missing(asdict(d)) for d in defects])


def write_latex_table(path: Path, frame, caption: str, label: str, float_format: str = "{:.3g}", size: str = "small") -> Path:
    """A booktabs table for `\\input` in the paper that fits the line whatever its content: text columns wrap
    (tabularx, ragged right), numbers keep their width, a multi-level header is joined with " / ", and a missing
    number is an empty cell.
    `size` is the font size (e.g. "footnotesize" for a wide one)."""
    import pandas as pd

    columns = [" / ".join(str(part) for part in col if str(part)) if isinstance(col, tuple) else str(col) for col in frame.columns]

    def cell(value) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else float_format.format(value)
        return tex_escape(value) if not pd.isna(value) else ""

    rows = [" & ".join(cell(v) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    # numbers keep their natural width, right-aligned; text columns share the rest of the line and wrap
    spec = "".join("r" if pd.api.types.is_numeric_dtype(dtype) else r">{\raggedright\arraybackslash}X" for dtype in frame.dtypes)
    text = "\n".join([
        r"\begin{table}[t]", rf"\centering\{size}\setlength{{\tabcolsep}}{{3pt}}", rf"\begin{{tabularx}}{{\linewidth}}{{{spec}}}", r"\toprule",
        " & ".join(tex_escape(c) for c in columns) + r" \\", r"\midrule", *rows, r"\bottomrule", r"\end{tabularx}",
        rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}", "",
    ])
    return atomic_write_text(path, text)
