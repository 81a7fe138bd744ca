"""The workbook's command line: `python -m lib.workbook <command>` (the Makefile's targets call it).

    python -m lib.workbook run --profile default            # run what is out of date
    python -m lib.workbook run --profile smoke --force 01_extraction
    python -m lib.workbook status                             # current / stale / missing
    python -m lib.workbook paper                              # claims table + latexmk
    python -m lib.workbook verify 01_extraction               # re-execute cold, compare with the committed numbers
    python -m lib.workbook reference --profile smoke          # write tests/reference/smoke (the smoke verify's reference)
    python -m lib.workbook site                               # results/site/: the claims site, and a screenshot of it

Standard library only at import time: `status` answers without the project's environment.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import WorkbookError
from ..paths import root_for_profile
from .execute import run_all
from .install import install_models, models_for_profile
from .status import notebook_status
from .paper import build_paper, collect_claims
from .profiles import discover_notebooks
from .site import build_site, screenshot
from .verify import format_report, verify, write_reference


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.workbook", description="Run the notebooks, report their status, build the paper.")
    parser.add_argument("command", choices=["run", "status", "claims", "paper", "install-models", "models", "verify", "reference", "site"])
    parser.add_argument("notebooks", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "default"))
    parser.add_argument("--force", action="store_true", help="run even when current")
    parser.add_argument("--also", nargs="*", default=[], help="install-models: more zoo keys beyond the profile's")
    args = parser.parse_intermixed_args(argv)
    # the committed profile reads and writes the repository's results; any other profile its own scratch folder
    os.environ.setdefault("WORKBOOK_OUTPUT_DIR", str(root_for_profile(args.profile)))
    try:
        if args.command == "run":
            run_all(args.profile, args.notebooks, args.force)
        elif args.command == "status":
            for notebook in discover_notebooks():
                state, reason = notebook_status(notebook, args.profile)
                print(f"{notebook:32s} {state:8s} {reason}")
        elif args.command == "claims":
            print(collect_claims())
        elif args.command == "paper":
            print(build_paper())
        elif args.command == "verify":
            return 0 if all(_verify(notebook, args.profile) for notebook in args.notebooks or discover_notebooks()) else 1
        elif args.command == "site":
            index = build_site()
            print(index, screenshot(index, index.with_suffix(".png")))
        elif args.command == "reference":
            print(write_reference(args.profile))
        elif args.command == "install-models":
            install_models(args.profile, args.also)
        else:
            print(" ".join(models_for_profile(args.profile)))
    except WorkbookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _verify(notebook: str, profile: str) -> bool:
    report = verify(notebook, profile)
    print(format_report(report), flush=True)
    return report["passed"]


if __name__ == "__main__":
    raise SystemExit(main())
