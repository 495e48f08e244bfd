"""What readers see of a stored robustness result: names in its examples masked, findings, and the erasure
hook blanking a row's examples by position (no training: the core's report on a test model)."""

from __future__ import annotations

import json

from governance.audits.erasure import _blank_robustness
from governance.audits.minimisation import masked_texts, results_masked, text_at
from governance.audits.robustness import robustness_findings
from tests.governance.robustness_evidence import brittle_model, robustness_result


def test_names_in_the_examples_are_masked_and_each_text_can_be_revealed_by_its_ref():
    from models_core.pii import mask_text

    results = {"robustness": robustness_result(brittle_model)}
    shown = results_masked(results)
    masked_refs = [r for r in shown["masked_refs"] if r.startswith("robustness/")]
    assert masked_refs  # the PII scan finds names (Maria, James, ...) in the examples
    for ref in masked_refs:
        stored = text_at(results, ref)
        assert text_at(shown, ref) == mask_text(stored) != stored  # shown masked, the stored copy untouched
    suites = {r.split("/")[2] for r in masked_refs if r.startswith("robustness/suites/")}
    assert len(suites) >= 3
    labels = {t["ref"]: t["label"] for t in masked_texts(results)}
    ref = next(r for r in masked_refs if r.startswith("robustness/suites/"))
    suite, example = ref.split("/")[2], int(ref.split("/")[4])
    assert labels[ref] == f"Robustness {suite}, example {example + 1}, {ref.split('/')[-1]}"


def test_findings_name_the_flipping_suites_failing_expectations_and_attack():
    findings = robustness_findings(robustness_result(brittle_model))
    assert any(f.startswith("Decisions change under perturbations") and "Casing" in f for f in findings)
    assert any("word-substitution attack changed" in f for f in findings)
    assert robustness_findings(None) == [] and robustness_findings({"skipped": "x"}) == []


def test_the_erasure_hook_blanks_every_example_of_the_rows_and_keeps_the_numbers():
    data = json.loads(json.dumps(robustness_result(brittle_model)))
    row = data["suites"]["casing"]["worst"][0]["index"]
    text = data["suites"]["casing"]["worst"][0]["original"]
    figures = data["suites"]["casing"]["flip_rate"]
    hit = _blank_robustness(data, {row})
    assert hit >= 1 and text not in json.dumps(data)
    assert data["suites"]["casing"]["flip_rate"] == figures
    others = [w for s in data["suites"].values() for w in s["worst"] if w["index"] != row]
    assert others and all(w["original"] != "[erased]" for w in others)
    assert _blank_robustness(data, None) > 0 and '"original": "[erased]"' in json.dumps(data)
