"""Replacing findings in a text with Presidio's AnonymizerEngine: masks (scan.py) and keyed pseudonyms
(pseudonym.py) are its custom operators."""

from __future__ import annotations

import functools

from models_core.errors import InputError


@functools.cache
def _anonymizer():
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


def replace_findings(text: str, findings, token_of) -> tuple[str, list[tuple[int, int, int, int]]]:
    """`text` with each finding replaced by `token_of(kind, value)` (Presidio's AnonymizerEngine, a custom
    operator per kind), and per finding (old start, old end, new start, new end)."""
    if not findings:
        return text, []
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    results = [RecognizerResult(f.kind.upper(), f.start, f.end, 1.0) for f in findings]
    operators = {f.kind.upper(): OperatorConfig("custom", {"lambda": lambda value, kind=f.kind: token_of(kind, value)})
                 for f in findings}
    out = _anonymizer().anonymize(text=text, analyzer_results=results, operators=operators,
                                  merge_entities_with_spaces=False)
    items = sorted(out.items, key=lambda item: item.start)
    if len(items) != len(findings):  # never expected: findings are disjoint and the merge is off
        raise InputError("the anonymizer did not replace every finding")
    moved = [(f.start, f.end, item.start, item.end) for f, item in zip(findings, items)]
    return out.text, moved
