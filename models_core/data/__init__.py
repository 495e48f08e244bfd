"""Datasets before any model: datasheets (`datasheet`, `quality`), drift between versions (`drift`),
pre-processing mitigations (`reweighing`), the old import path of personal-data scanning (`pii`, now the
`models_core.pii` package) and the seeded synthetic hiring data of the demo and the tests (`synthetic`).

Takes rows as plain dicts (column -> value) or texts; returns plain JSON dicts, weights or rows. Imports
numpy, pandas and scipy, and from models_core only `errors` and `pii`; never torch, the encoder or fairness.
"""
