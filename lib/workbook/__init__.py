"""The tools that run the workbook, kept apart from the science in `lib/`: nothing here changes a result.

| module      | role                                                                              |
|-------------|-----------------------------------------------------------------------------------|
| `profiles`  | the TOML profiles and the notebooks they parameterize (`# depends_on:` headers)   |
| `inputs`    | every input of a notebook run with its content hash                               |
| `outputs`   | a run's outputs and its manifest                                                  |
| `status`    | current / stale / missing, from the inputs' hashes and the outputs'                |
| `execute`   | papermill execution, the HTML export, running what is out of date                 |
| `paper`     | the claims table and the byte-reproducible latexmk build                          |
| `install`   | pip installs of the zoo's model packages a profile needs                          |
| `bench`     | `make bench`: speed ratios through the notebooks' code paths                      |
| `__main__`  | the command line the Makefile calls (`python -m lib.workbook status`)             |

Standard library only at import time (except `bench`), so `make status` runs on a bare Python.
"""
