"""Shared mechanics of the activation-steering workbook.

The package is deliberately thin: model loading, activation capture, direction
arithmetic, statistics and result writing. Each notebook holds its own argument.
Importing `lib` itself pulls in nothing heavy, so `lib.pipeline` and
`lib.registry` run with the standard library alone (`make status` relies on it).
"""
