"""Audits of generative (causal) language models: memorisation (canary exposure, as in Carlini et al.,
"The Secret Sharer", 2019), training-data extraction of personal data (Carlini et al., "Extracting Training
Data from Large Language Models", 2021) and prompt-swap bias; `audit.compute_generative_audit` runs them in
one call.

Takes a `models_core.decoder.bundle.DecoderBundle`, texts and plain settings; returns plain JSON-able dicts.
Personal data found in training records is never written to a result: only its kind, a masked form and
whether the model reproduced it. Imports numpy, scipy, torch and, from models_core, `decoder`, `pii`,
`fairness.counterfactual` (the word pairs) and `errors`.
"""
