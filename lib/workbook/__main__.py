"""The workbook's command line: `python -m lib.workbook <command>` (the Makefile's targets call it).

    python -m lib.workbook run --profile default            # run what is out of date
    python -m lib.workbook run --profile smoke --force 01_extraction
    python -m lib.workbook status                             # current / stale / missing
    python -m lib.workbook paper                              # claims table + latexmk

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.workbook", description="Run the notebooks, report their status, build the paper.")
    parser.add_argument("command", choices=["run", "status", "claims", "paper", "install-models", "models"])
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
        elif args.command == "install-models":
            install_models(args.profile, args.also)
        else:
            print(" ".join(models_for_profile(args.profile)))
    except WorkbookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
