from __future__ import annotations

from typing import Any, Mapping

from django.contrib.postgres.aggregates import StringAgg
from django.db import connection
from django.db.models import Case, F, JSONField, OuterRef, QuerySet, Subquery, TextField, Value, When
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce, Concat

from governance.accounts.predicates import project_scoped
from governance.audits.models import Audit, AuditResult, AuditStatus, Prediction
from governance.audits.robustness import robustness_findings
from governance.list_filters import ListFilters, narrowed, ordered, searched

AUDIT_FILTERS = {"project": "model_version__model__project_id", "status": "status", "model": "model_version__model_id", "dataset": "dataset_version__dataset_id",
                 "model_version": "model_version_id", "dataset_version": "dataset_version_id",
                 "requested_by": "requested_by__username", "created_after": "created_at__gte",
                 "created_before": "created_at__lt"}
AUDIT_SEARCH = ("model_version__model__name__icontains", "dataset_version__dataset__name__icontains",
                "requested_by__username__icontains")
AUDIT_ORDERING = {"id": "pk", "created_at": "created_at", "finished_at": "finished_at", "status": "status"}
PREDICTION_FILTERS = {"predicted_label": "predicted_label", "subject_id": "subject_id"}
PREDICTION_ORDERING = {"id": "pk", "subject_id": "subject_id", "predicted_label": "predicted_label"}


def _scoped(qs: QuerySet[Audit], user) -> QuerySet[Audit]:
    """An audit belongs to the project of the model it audits."""
    return project_scoped(qs, user=user, via="model_version__model__project")


def audit_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Audit]:
    """The audits of the projects `user` sees (None: all), newest first. `filters`: q (the audit number, or
    the model's or dataset's name or the requester contains), project, status, model, dataset, model_version,
    dataset_version, requested_by (username), created_after/before, ordering (a key of AUDIT_ORDERING)."""
    filters = filters or {}
    qs = _scoped(Audit.objects.select_related("model_version__model", "dataset_version__dataset", "requested_by"),
                 user)
    qs = narrowed(searched(qs, filters.get("q", ""), fields=AUDIT_SEARCH, by_number=True), filters, AUDIT_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=AUDIT_ORDERING, default="-created_at")


def audit_rows(audits: QuerySet[Audit]) -> QuerySet[dict]:
    """`audits` (a page of audit_list, sliced or not) as plain rows for the list API: the audit's columns with
    the model's name, the version's number, the dataset's name and the requester's username joined in; no
    model instances (six per row)."""
    return audits.values(
        "id", "model_version_id", "dataset_version_id", "status", "config", "created_at", "started_at",
        "finished_at", "error", "artifact_digest", "summary", "result_hash",
        model_name=F("model_version__model__name"), model_version_number=F("model_version__version"),
        dataset_name=F("dataset_version__dataset__name"), requester=F("requested_by__username"))


def prediction_list(*, audit_id: int, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Prediction]:
    """An audit's predictions in stored order (Audit.DoesNotExist when `user` does not see the audit).
    `filters`: predicted_label, subject_id, ordering (a key of PREDICTION_ORDERING)."""
    filters = filters or {}
    audit = audit_get(audit_id=audit_id, user=user)
    qs = narrowed(Prediction.objects.filter(audit=audit), filters, PREDICTION_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=PREDICTION_ORDERING, default="id")


def audit_get(*, audit_id: int, user) -> Audit:
    """The audit, if `user` sees its project (None: the system); Audit.DoesNotExist otherwise."""
    return audit_list(user=user).get(pk=audit_id)


def audit_bare_get(*, audit_id: int, user) -> Audit:
    """An audit's own row, none of the rows it points to, the audit-log head (`log_head`, its sequence number)
    and the digests of its stored results as they are now (`result_digests`: "kind:sha256" of each
    AuditResult, by kind, comma-separated; "" when it has none), read in the same statement: all the report
    page reads besides its cached sections (audits.report). A result rewritten in place (an erasure's
    redaction) gets a new sha256, so it changes `result_digests` though the audit's result_hash stays."""
    from governance.auditlog.models import ChainHead

    head = ChainHead.objects.filter(pk=1).values("seq")
    audits = _scoped(Audit.objects.all(), user).annotate(log_head=Coalesce(Subquery(head), 0))
    if connection.vendor != "postgresql":  # no ordered string aggregate in Django 5.2 (SQLite: the demo)
        audit = audits.get(pk=audit_id)
        audit.result_digests = ",".join(f"{kind}:{sha}" for kind, sha in AuditResult.objects.filter(
            audit_id=audit_id).order_by("kind").values_list("kind", "sha256"))
        return audit
    digests = (AuditResult.objects.filter(audit=OuterRef("pk")).order_by().values("audit")
               .annotate(all=StringAgg(Concat("kind", Value(":"), "sha256", output_field=TextField()),
                                       delimiter=",", order_by="kind"))
               .values("all"))
    return audits.annotate(
        result_digests=Coalesce(Subquery(digests), Value(""), output_field=TextField())).get(pk=audit_id)


def audit_results(*, audit: Audit) -> dict:
    return {r.kind: r.data for r in audit.results.all()}


def audit_results_shown(*, audit: Audit) -> dict:
    """The results as readers see them: free texts with their personal data masked (audits.minimisation)."""
    from governance.audits.minimisation import results_masked

    return explanations_upgraded(results_masked(audit_results(audit=audit)))


def explanations_upgraded(results: dict) -> dict:
    """The results with explanations stored under an older schema shaped as the current one (method
    agreement under "agreement"; models_core.explain.schema), for the page, the exports and the API."""
    from models_core.explain.schema import upgrade

    if isinstance(results, dict) and results.get("explanations"):
        results = {**results, "explanations": upgrade(results["explanations"])}
    return results


def audit_provisional_shown(*, audit: Audit) -> dict:
    """A running audit's results so far (issue 19), masked as the final ones are; {} once it is complete."""
    from governance.audits.minimisation import results_masked

    if audit.status == AuditStatus.COMPLETE or not audit.provisional:
        return {}
    return results_masked(audit.provisional)


PERFORMANCE_ROWS = (("accuracy", "Accuracy"), ("f1_macro", "F1 (macro)"), ("n", "Rows"))
COMPARED_DISPARITIES = ("demographic_parity_difference", "equalized_odds_difference",
                        "equal_opportunity_difference")


def audit_comparison(*, a: Audit, b: Audit) -> dict:
    """Two complete audits side by side, from their stored results: performance, disparities with their
    intervals, counterfactual flip rates and the fairness verdicts."""
    from governance.errors import ValidationFailed

    for field, audit in (("a", a), ("b", b)):
        if audit.status != "complete":
            raise ValidationFailed(f"Audit #{audit.pk} is {audit.status}; only complete audits can be compared.",
                                   field=field)
    if a.pk == b.pk:
        raise ValidationFailed("Choose two different audits.", field="b")
    results = {"a": audit_results(audit=a), "b": audit_results(audit=b)}

    def both(get) -> dict:
        return {side: get(results[side]) for side in ("a", "b")}

    performance = [{"key": key, "label": label, **both(lambda r, k=key: (r.get("metrics") or {}).get(k))}
                   for key, label in PERFORMANCE_ROWS]
    groupings = list(dict.fromkeys([*((results["a"].get("fairness") or {}).get("groupings") or {}),
                                    *((results["b"].get("fairness") or {}).get("groupings") or {})]))
    disparities = [
        {"grouping": g, "name": name,
         **both(lambda r, g=g, name=name: (((r.get("fairness") or {}).get("groupings") or {}).get(g, {})
                                           .get("disparities", {}).get(name)))}
        for g in groupings for name in COMPARED_DISPARITIES]
    directions = list(dict.fromkeys([*((results["a"].get("counterfactual") or {}).get("directions") or {}),
                                     *((results["b"].get("counterfactual") or {}).get("directions") or {})]))
    counterfactual = [
        {"direction": d, **both(lambda r, d=d: _flip_summary(((r.get("counterfactual") or {})
                                                               .get("directions") or {}).get(d)))}
        for d in directions]
    verdict = both(lambda r: _verdict_counts(r.get("fairness_verdict")))
    decision = both(lambda r: (r.get("metrics") or {}).get("decision") or {"rule": "argmax"})
    return {"a": a, "b": b, "performance": performance, "disparities": disparities,
            "counterfactual": counterfactual, "verdict": verdict, "decision": decision}


def _flip_summary(direction: dict | None) -> dict | None:
    if direction is None:
        return None
    return {k: direction.get(k) for k in ("n_changed", "n_flipped", "flip_rate", "mean_abs_change")}


def _verdict_counts(verdict) -> dict | None:
    if not isinstance(verdict, list):
        return None
    passed = sum(1 for r in verdict if r.get("passed"))
    return {"passed": passed, "failed": len(verdict) - passed, "total": len(verdict)}


def audit_report_get(*, audit_id: int, user) -> Audit:
    """An audit with what its report shows besides the results: lineage (training data, parent version);
    Audit.DoesNotExist when `user` does not see its project."""
    return (audit_list(user=user).select_related("model_version__dataset_version__dataset", "model_version__parent__model",
                                        "dataset_version__dataset__owner")
            .prefetch_related("results").get(pk=audit_id))


def audit_findings(*, results: dict) -> list[str]:
    """What a reviewer must weigh before signing, read from the stored results: accuracy against the
    majority baseline, the audit's own fairness rules, groups too small to judge, counterfactual flips and
    flagged explanations. Empty when none of them speaks against the model."""
    findings = []
    metrics = results.get("metrics") or {}
    if metrics and metrics.get("accuracy") is not None and \
            metrics["accuracy"] <= metrics.get("majority_baseline_accuracy", 0):
        findings.append(f"Accuracy {metrics['accuracy']:.3f} is not above the majority-class baseline "
                        f"{metrics['majority_baseline_accuracy']:.3f}.")
    rules = results.get("fairness_verdict") or []
    failed = [r for r in rules if isinstance(r, dict) and not r.get("passed")]
    if failed:
        findings.append(f"{len(failed)} of {len(rules)} fairness rule checks fail (see “Fairness rules”).")
    small = sorted({f"{name}: {group}" for name, grouping in ((results.get("fairness") or {}).get("groupings") or {}).items()
                    for group, g in (grouping.get("groups") or {}).items() if g.get("too_small")})
    if small:
        findings.append(f"{len(small)} group(s) too small to judge ({', '.join(small[:4])}{'…' if len(small) > 4 else ''}).")
    for direction, d in ((results.get("counterfactual") or {}).get("directions") or {}).items():
        if d.get("n_flipped"):
            findings.append(f"Swapping identity words ({direction}) changed {d['n_flipped']} of {d['n_changed']} "
                            f"decisions.")
    extraction = results.get("extraction") or {}
    if extraction.get("findings_extracted"):
        findings.append(f"The model reproduced {extraction['findings_extracted']} of {extraction['findings_probed']} "
                        f"personal-data findings of its training records exactly (see “Memorisation”).")
    canaries = results.get("canaries") or {}
    seen_once = (canaries.get("by_repeats") or {}).get("1") or {}
    if seen_once.get("max_exposure_lower", 0) > canaries.get("max_exposure_possible", 0) / 2:
        findings.append(f"A canary seen once is exposed at ≥ {seen_once['max_exposure_lower']:.1f} bits (the lower "
                        "end of its interval): the model memorises single records.")
    findings += robustness_findings(results.get("robustness"))
    texts = (results.get("explanations") or {}).get("texts") or []
    flagged = sum(1 for t in texts if t.get("flags"))
    if flagged:
        findings.append(f"{flagged} of {len(texts)} explanations are flagged (low agreement, instability or "
                        f"truncation).")
    return findings


def audit_lineage(*, audit: Audit) -> dict:
    """Training dataset version → model version (and the version it derives from) → its deployments."""
    version = audit.model_version
    return {"training_data": version.dataset_version, "model_version": version, "parent": version.parent,
            "deployments": list(version.deployments.order_by("-started_at"))}


def audit_search(*, user, filters: ListFilters) -> QuerySet[Audit]:
    """Audits matching a list page's filters (governance.list_filters.ListFilters): `q` matches the audit
    number, the model's or dataset's name or the requester; status, model and dataset are exact."""
    return audit_list(user=user, filters=filters.as_dict())


def model_version_audits_section(*, model_version) -> dict:
    """The model version page's audits (governance.hooks.model_version_page_sections, registered in apps.py)."""
    return {"audits": audit_list(user=None).filter(model_version=model_version)}  # the page checked the version


def audit_compute_records(*, versions: QuerySet) -> dict[str, list[dict]]:
    """The compute records stored with these model versions' audits, in one query: inference (each audit's
    "compute" result) and explanations (the "compute" inside each "explanations" result); only the compute
    part of an explanations result leaves the database (governance.hooks.model_compute_records)."""
    results = (AuditResult.objects.filter(audit__model_version__in=versions.values("pk"),
                                          kind__in=("compute", "explanations"))
               .annotate(part=Case(When(kind="compute", then=F("data")),
                                   default=KeyTransform("compute", "data"), output_field=JSONField()))
               .values_list("kind", "part"))
    inference, explanations = [], []
    for kind, part in results:
        if isinstance(part, dict) and part:
            (inference if kind == "compute" else explanations).append(part)
    return {"inference": inference, "explanations": explanations}


def audit_suggested_dataset(*, user, model_version_id) -> int | None:
    """The dataset version to suggest for auditing a model version: the holdout part (else the validation part)
    of the split its training data belongs to, when the user sees it."""
    from django.core.exceptions import ObjectDoesNotExist

    from governance.datasets.splits import split_part
    from governance.registry.selectors import model_version_list

    try:
        version = model_version_list(user=user).select_related("dataset_version").get(pk=int(model_version_id))
    except (ValueError, TypeError, ObjectDoesNotExist):
        return None
    part = split_part(version=version.dataset_version, role="holdout") or \
        split_part(version=version.dataset_version, role="validation")
    return part.pk if part else None
