"""Shared mechanics of the activation-steering workbook.

The science lives here (model loading, activation capture, the intervention engine, direction arithmetic,
statistics, result writing); the tools that run it (the notebook runner, the paper build, the benchmark) live in
`lib.workbook`. Importing `lib` itself pulls in nothing heavy, so `lib.workbook` and `lib.registry` run with the
standard library alone (`make status` relies on it).
"""
