"""Datasets before any model: datasheets (`datasheet`, `quality`), drift between versions (`drift`),
pre-processing mitigations (`reweighing`), personal-data scanning and pseudonymisation (`pii`) and the
seeded synthetic hiring data of the demo and the tests (`synthetic`).

Takes rows as plain dicts (column -> value) or texts; returns plain JSON dicts, weights or rows. Imports
numpy, pandas and scipy, and from models_core only `errors`; never torch, the encoder or fairness.
"""
