"""The explanations' scoring note as the report page shows it: which copy scored the perturbations, and why not."""

from __future__ import annotations

from django.template.loader import render_to_string

FALLBACK = {"scoring": "fp32", "batches": "padding-free (one token length per batch)",
            "thresholds": {"max_abs_dp": 0.02, "attribution_pearson_min": 0.99},
            "skipped": [{"scoring": "int8", "agreement": {"max_abs_dp": 0.4}}],
            "reason": "int8 skipped: agreement with fp32 on the probe below the thresholds",
            "not_offered": {"bf16": "no native bf16 on this CPU (no AVX512-BF16 or AMX): emulated bf16 products run "
                                    "slower than fp32"}}


def _render(scoring: dict) -> str:
    ex = {"methods": ["shap"], "texts": [], "config": {"scoring": scoring, "stability": {}, "stability_thresholds": {}},
          "global": {}, "compute": {}}
    return render_to_string("audits/_explanations.html", {"ex": ex})


def test_the_page_says_why_bf16_was_not_tried_on_a_cpu_that_only_emulates_it():
    html = _render(FALLBACK)
    assert "The fp32 model (int8 skipped: agreement with fp32 on the probe below the thresholds)" in html
    assert "bf16 not tried: no native bf16 on this CPU" in html


def test_a_note_stored_before_the_not_offered_field_still_renders():
    html = _render({k: v for k, v in FALLBACK.items() if k != "not_offered"})
    assert "The fp32 model" in html and "bf16 not tried" not in html
