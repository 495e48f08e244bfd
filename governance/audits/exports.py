"""Export of an audit report as one self-contained HTML file or as a PDF, from the stored results only.

Both are built by the one logged export (governance.auditlog.exports.export_render: the provenance envelope
with schema, time, author, content SHA-256, audit-log head and a signed checkpoint); the export is logged on
the audit with the rendered file's SHA-256, so a file handed to a regulator can be matched to the log entry
that produced it. (Kept beside the services rather than in services.py: it is the audits app's one export,
and it renders through a callable the view passes in.)
"""

from __future__ import annotations

from typing import Callable

from governance.auditlog.exports import ExportFile, export_render
from governance.audits.models import Audit, AuditStatus
from governance.audits.robustness import robustness_pdf_blocks
from governance.errors import InvalidState, ValidationFailed

SCHEMA = ("model-audit-report", "1.0")
FORMATS = ("html", "pdf")

def audit_report_content(*, audit: Audit, results: dict, verdicts: list[dict]) -> dict:
    """The exported content: the audit's identity, every stored result and the policy verdict shown."""
    return {
        "audit": {"id": audit.pk, "model_version": str(audit.model_version), "model_version_id": audit.model_version_id,
                  "dataset_version": str(audit.dataset_version), "dataset_version_id": audit.dataset_version_id,
                  "dataset_sha256": audit.dataset_version.sha256, "artifact_digest": audit.artifact_digest,
                  "result_hash": audit.result_hash, "status": audit.status,
                  "finished_at": audit.finished_at.isoformat() if audit.finished_at else None,
                  "requested_by": audit.requested_by.username, "config": audit.config},
        "result_sha256": {r.kind: r.sha256 for r in audit.results.all()},
        "policy_verdicts": [{"environment": v["environment"], "passed": v["passed"],
                             "gates": [{"gate": g["gate"], "passed": g["passed"], "detail": g["detail"]}
                                       for g in v["gates"]]} for v in verdicts],
        "results": results,
    }


def audit_report_export(*, actor, audit: Audit, fmt: str, content: dict,
                        render_html: Callable[[dict], str]) -> ExportFile:
    """Render the report as `fmt` ("html": `render_html(document)`; "pdf": the shared PDF builder), and log
    the export on the audit with the content hash, the file's SHA-256 and the log head it was stamped with."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"An audit report exports as HTML or PDF, not '{fmt}'.", field="format")
    if audit.status != AuditStatus.COMPLETE:
        raise InvalidState(f"Audit #{audit.pk} is {audit.status}; only a complete audit has a report to export.")
    return export_render(actor=actor, schema=SCHEMA, content=content, fmt=fmt, filename=f"audit-{audit.pk}-report",
                         title=f"Model audit report #{audit.pk}: {audit.model_version}", pdf_blocks=pdf_blocks,
                         html=render_html, action="audit.report_exported", obj=audit,
                         payload={"result_hash": audit.result_hash})


def _ci(metric) -> str:
    if not isinstance(metric, dict) or metric.get("value") is None:
        return "—"
    low, high = (metric.get("ci") or [None, None])[:2]
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
    return f"{metric['value']:.3f}{interval}"


def pdf_blocks(content: dict) -> list[tuple]:
    """The report as the shared PDF builder's blocks, in the order of the page."""
    a, results = content["audit"], content["results"]
    blocks: list[tuple] = [("kv", [("Model version", a["model_version"]), ("Audited on", a["dataset_version"]),
                                   ("Requested by", a["requested_by"]), ("Finished", a["finished_at"])])]
    blocks.append(("h", "Verdict against the deployment policies"))
    for v in content["policy_verdicts"]:
        failing = [g for g in v["gates"] if not g["passed"]]
        blocks.append(("p", f"{v['environment']}: " + ("all gates pass" if not failing else
                                                       f"{len(failing)} of {len(v['gates'])} gates fail")))
        blocks.append(("list", [f"{'PASS' if g['passed'] else 'FAIL'} — {g['gate']}: {g['detail']}"
                                for g in v["gates"]]))
    metrics = results.get("metrics")
    if metrics:
        blocks += [("h", "Performance"),
                   ("kv", [("Rows", metrics["n"]), ("Accuracy", metrics["accuracy"]), ("F1 (macro)", metrics["f1_macro"]),
                           ("Majority-class baseline", metrics["majority_baseline_accuracy"])]),
                   ("table", ["Class", "Precision", "Recall", "F1", "Support"],
                    [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in metrics["per_class"]])]
    verdict = results.get("fairness_verdict")
    if verdict:
        blocks += [("h", "Fairness rules"),
                   ("table", ["Rule", "Grouping", "Value [interval]", "Compared", "Result"],
                    [[r.get("metric"), r.get("grouping"), _ci(r), r.get("compared"),
                      "pass" if r.get("passed") else "fail"] for r in verdict])]
    fairness = results.get("fairness") or {}
    for name, grouping in (fairness.get("groupings") or {}).items():
        names = fairness.get("metric_names") or []
        blocks += [("h", f"Fairness by {name}"),
                   ("table", ["Group", "Rows", *[n.replace("_", " ") for n in names]],
                    [[group, g.get("count"), *[_ci((g.get("metrics") or {}).get(n)) for n in names]]
                     for group, g in grouping.get("groups", {}).items()]),
                   ("table", ["Disparity", "Value [interval]"],
                    [[d.replace("_", " "), _ci(v)] for d, v in grouping.get("disparities", {}).items()])]
    counterfactual = results.get("counterfactual")
    if counterfactual:
        blocks += [("h", "Counterfactual token swaps"),
                   ("table", ["Direction", "Texts changed", "Flipped", "Flip rate", "Mean |Δp|"],
                    [[k, d.get("n_changed"), d.get("n_flipped"), d.get("flip_rate"), d.get("mean_abs_change")]
                     for k, d in counterfactual.get("directions", {}).items()])]
    blocks += robustness_pdf_blocks(results.get("robustness"))
    blocks += _explanation_blocks(results.get("explanations"))
    blocks += _memorisation_blocks(results)
    if results.get("compute"):
        blocks += [("h", "Compute used (inference)"), ("kv", list(results["compute"].items()))]
    blocks += [("h", "Evidence"),
               ("kv", [("Artifact digest", a["artifact_digest"]), ("Dataset version SHA-256", a["dataset_sha256"]),
                       ("Result hash", a["result_hash"]),
                       *[(f"“{k}” result", v) for k, v in sorted(content["result_sha256"].items())]])]
    return blocks


def _explanation_blocks(ex: dict | None) -> list[tuple]:
    if not ex:
        return [("h", "Explanations"), ("p", "This audit explained no rows.")]
    glob = ex.get("global") or {}
    blocks: list[tuple] = [
        ("h", "Explanations"),
        ("p", f"{len(ex.get('texts', []))} predictions explained with {', '.join(ex.get('methods', []))}; "
              f"{sum(1 for t in ex.get('texts', []) if t.get('flags'))} flagged."),
        ("table", ["Word" if glob.get("unit") == "word" else "Token", "Mean |attribution|", "Mean", "Occurrences"],
         [[t["token"], t.get("mean_abs"), t.get("mean"), t.get("occurrences")] for t in glob.get("top_tokens", [])[:15]]),
    ]
    aside = glob.get("set_aside") or {}
    if aside:
        blocks.append(("p", f"Set aside from the ranking: punctuation ({' '.join(aside.get('punctuation', [])) or 'none'}) "
                            f"and stop words ({', '.join(aside.get('stop_words', [])) or 'none'})."))
    for attribute, proxies in (glob.get("proxies") or {}).items():
        blocks += [("p", f"Likely proxies for {attribute}"),
                   ("table", ["Token", "Gap", "Higher in", "Lower in"],
                    [[p["token"], p.get("gap"), p.get("higher_in"), p.get("lower_in")] for p in proxies[:10]])]
    method = "shap" if "shap" in ex.get("methods", []) else (ex.get("methods") or [""])[0]
    rows = []
    for n, t in enumerate(ex.get("texts", []), start=1):
        values = (t.get("attributions") or {}).get(method) or []
        ranked = sorted(zip(t.get("tokens", []), values), key=lambda p: -abs(p[1] or 0))[:5]
        rows.append([n, t.get("text", ""), (t.get("agreement") or {}).get("score"), (t.get("stability") or {}).get("score"),
                     ", ".join(f"{tok['token']} {v:+.3f}" for tok, v in ranked if v is not None),
                     ", ".join(t.get("flags", [])) or "—"])
    blocks.append(("table", ["#", "Text", "Method agreement", "Stability", f"Top tokens ({method})", "Flags"], rows))
    return blocks


def _memorisation_blocks(results: dict) -> list[tuple]:
    """A generative version's memorisation audit (audits.memorisation): perplexity, canaries, extraction, swap."""
    if not (results.get("canaries") or results.get("extraction")):
        return []
    blocks: list[tuple] = [("h", "Memorisation and personal-data leakage"),
                           ("kv", [("Holdout perplexity", (results.get("perplexity") or {}).get("holdout"))])]
    canaries = results.get("canaries") or {}
    if canaries.get("available"):
        blocks += [("p", f"Canary exposure ({canaries.get('method')}; at most {canaries.get('max_exposure_possible'):.2f} "
                         "bits)"),
                   ("table", ["Inserted", "Canaries", "Mean exposure (bits)", "Max exposure"],
                    [["never" if k == "0" else f"{k}x", r["n"], r["mean_exposure"], r["max_exposure"]]
                     for k, r in (canaries.get("by_repeats") or {}).items()])]
    elif canaries:
        blocks.append(("p", f"Canary exposure not available: {canaries.get('reason')}"))
    extraction = results.get("extraction") or {}
    if extraction:
        blocks += [("p", f"{extraction.get('findings_extracted')} of {extraction.get('findings_probed')} personal-data "
                         "findings reproduced exactly from their prefix"),
                   ("table", ["Kind", "Probed", "Reproduced exactly"],
                    [[k, v["probed"], v["extracted"]] for k, v in (extraction.get("by_kind") or {}).items()])]
    swap = results.get("prompt_swap")
    if swap:
        blocks.append(("p", f"Prompt-swap: mean score difference {swap['groups'][0]} − {swap['groups'][1]} "
                            f"{swap['mean_difference']:.3f} [{swap['interval'][0]:.3f}, {swap['interval'][1]:.3f}]"))
    return blocks
