"""The audit report builder: `audit_report` returns the whole context of an audit's report page, its sections
rendered once and kept in the cache (issue 9); `report_context` the full context from the database (exports,
audits not complete, and a section missing from the cache).

Every key names the audit and the digests of its stored results as they are now (each AuditResult's kind
and sha256, read with the audit in one statement by audits.selectors.audit_bare_get), not the audit's
result hash: that hash names what was computed and stays, while a result can be rewritten in place (an
erasure or the retention purge blanks the subject's text in the explanations and counterfactual examples,
audits.erasure.audit_results_redact, and gives the row a new sha256). So the page never shows the text an erasure removed.
The sections drawn from the results alone (fairness rules, performance, fairness tables and charts,
counterfactuals, explanations, compute) are kept under one key per audit, with the result digests they were
rendered from inside the entry: an entry whose digests are not the audit's current ones is not used but
rendered anew and overwritten, and `report_cache_forget` (called by the redaction) deletes it at once, so
no copy of erased text outlives the erasure in the cache either.
The sections that also read other rows are kept per audit-log head as well: the heading (the names of the
model, dataset and requester), the verdict of each environment's deployment policy (the policies, the
training data's declared metadata, the audit's age in days, which is in the key), and the lineage and
evidence (deployments). Every change to that state appends to the hash-chained audit log in its own
transaction (auditlog.services.audit_log_append), so a new head means something may have changed, and a
new key. A write that bypasses both (changes a result's data without its sha256, or other rows without a
log entry) goes unseen until the section expires.

What belongs to the reader is never cached: the sections are rendered without the request, so no context
processor, user, role or CSRF token can reach them; the page around them (the actions the reader may take,
the logout form, their name) is rendered fresh on every request. Exports and audits that are not complete
do not come here: they render every section from the database, as before.

The cache only saves work: when the backend fails (Redis down, a timeout), the failure is logged as a
warning and the sections are rendered from the database, as if nothing had been kept.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from governance import hooks
from governance.audits import selectors
from governance.audits.minimisation import results_masked
from governance.audits.models import Audit, AuditStatus
from governance.jobs.selectors import job_for

log = logging.getLogger(__name__)

STORED_TTL_S = 7 * 24 * 3600
# The live sections also expire, which bounds how long a write that bypassed the services (the admin site, a
# shell, a data migration: no audit-log entry) can go unseen.
LIVE_TTL_S = 10 * 60
LIVE_SECTIONS = {"heading": "audits/_heading.html", "policy_verdict": "audits/_policy_verdict.html",
                 "lineage": "audits/_lineage.html"}
STORED_SECTIONS = {"stored_results": "audits/_stored_results.html"}


def audit_report(*, audit_id: int, user) -> dict:
    """The report page's context (raises Audit.DoesNotExist, also when `user` does not see its project). A complete audit: the audit's own row and its
    rendered sections, from the cache where kept. Queued, running (the live bar) or failed: the full context,
    nothing kept."""
    audit = selectors.audit_bare_get(audit_id=audit_id, user=user)
    if audit.status != AuditStatus.COMPLETE:
        return report_context(audit_id=audit_id, user=user)
    # A complete audit's job completed in the same transaction (audits.services._audit_store): no bar to show.
    sections = report_sections(audit=audit, log_head=audit.log_head, result_digests=audit.result_digests,
                               context=lambda now: report_context(audit_id=audit_id, user=user, now=now))
    return {"audit": audit, "sections": sections}


def report_context(*, audit_id: int, user, now: datetime | None = None) -> dict:
    """What the report shows: stored results only, what upper apps add through hooks.audit_report_sections
    (approvals: the policies judged on them at `now`, `verdicts`), lineage and hashes. Raises
    Audit.DoesNotExist (also when `user` does not see its project; None: the system)."""
    audit = selectors.audit_report_get(audit_id=audit_id, user=user)
    if audit.status != AuditStatus.COMPLETE and audit.provisional:
        # Results as they come (issue 19): the stages finished so far, shown under a banner; no verdict, no
        # policy judged, no findings and no hash until every stage is done and the results are stored.
        return {"audit": audit, "results": results_masked(audit.provisional), "provisional": True,
                "job": job_for(audit), "result_rows": [], "verdicts": [], "findings": [],
                "lineage": selectors.audit_lineage(audit=audit)}
    results = selectors.audit_results(audit=audit)
    # What the page and the exports show: free texts with their personal data masked (audits.minimisation).
    shown = selectors.explanations_upgraded(results_masked(results))
    return {"audit": audit, "results": shown, "job": job_for(audit),
            "result_rows": sorted(audit.results.all(), key=lambda r: r.kind), "verdicts": [],
            **hooks.audit_report_sections.merged(audit=audit, results=results, now=now),
            "findings": selectors.audit_findings(results=results),
            "lineage": selectors.audit_lineage(audit=audit)}


@functools.cache
def code_version() -> str:
    """A digest of the templates and the Python code that draw the sections, so that a release that changes
    how they look renders them anew instead of serving the previous release's HTML from a shared cache."""
    digest = hashlib.sha256()
    # models_core/pii: the masks the sections show are the scan's; a better recognizer renders them anew.
    for folder, pattern in (("templates", "**/*.html"), ("governance", "**/*.py"), ("models_core/pii", "**/*.py")):
        for path in sorted((settings.BASE_DIR / folder).glob(pattern)):
            digest.update(str(path.relative_to(settings.BASE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def report_sections(*, audit: Audit, log_head: int, result_digests: str,
                    context: Callable[[datetime], dict]) -> dict[str, SafeString]:
    """The rendered sections of a complete audit's report page, from the cache or rendered and cached.

    `log_head` is the audit log's sequence number and `result_digests` the digests of the audit's stored
    results (audits.selectors.audit_bare_get reads both with the audit), read before anything the sections
    show: `context(now)` builds the report's full context from fresh reads (judging the policies at `now`)
    and is called only when a section is missing, so what it reads is at least as new as the head and the
    digests in the key; a rendering is never filed under a newer key than its data. A cache that fails is
    passed by: the sections are rendered from the database."""
    if audit.status != AuditStatus.COMPLETE:
        raise ValueError(f"Only a complete audit's report is cached; audit #{audit.pk} is {audit.status}.")
    now = timezone.now()
    age_days = (now - audit.finished_at).days if audit.finished_at else None
    results = hashlib.sha256(result_digests.encode()).hexdigest()[:32]
    keys = {"stored": _stored_key(audit.pk),
            "live": f"audit-report:{code_version()}:{audit.pk}:{results}:live:{log_head}:{age_days}"}
    found = _cache_get_many(list(keys.values()), audit=audit)
    stored = found.pop(keys["stored"], None)
    if isinstance(stored, dict) and stored.get("digests") == results:
        found[keys["stored"]] = stored["sections"]
    sections = {**found.get(keys["stored"], {}), **found.get(keys["live"], {})}
    if len(sections) < len(STORED_SECTIONS) + len(LIVE_SECTIONS):
        full = context(now)
        rendered = {}
        for part, templates, timeout in (("stored", STORED_SECTIONS, STORED_TTL_S),
                                         ("live", LIVE_SECTIONS, LIVE_TTL_S)):
            if keys[part] not in found:
                # No request: nothing about the reader can enter a section kept for every reader.
                rendered[part] = {name: render_to_string(template, full) for name, template in templates.items()}
                value = {"digests": results, "sections": rendered[part]} if part == "stored" else rendered[part]
                _cache_set(keys[part], value, timeout, audit=audit)
        sections = {**sections, **rendered.get("stored", {}), **rendered.get("live", {})}
    # Our own templates' output, autoescaped when rendered.
    return {name: mark_safe(html) for name, html in sections.items()}  # nosec B308 B703


def report_cache_forget(*, audit_ids) -> None:
    """Delete the kept result sections of these audits (their results were rewritten: an erasure)."""
    keys = [_stored_key(pk) for pk in audit_ids]
    try:
        cache.delete_many(keys)
    except Exception:  # noqa: BLE001 - see below; a stale entry is never shown (its digests differ)
        log.warning("Report cache unavailable (delete) for audits %s; their old entries expire in %s s.",
                    list(audit_ids), STORED_TTL_S, exc_info=True)


def _stored_key(audit_id: int) -> str:
    return f"audit-report:{code_version()}:{audit_id}:stored"


# The cache only saves work, so any error of its backend (whose exception classes depend on the backend:
# redis-py's ConnectionError and TimeoutError, a socket error, ...) is logged and the page rendered without it.
def _cache_get_many(keys: list[str], *, audit: Audit) -> dict:
    try:
        return cache.get_many(keys)
    except Exception:  # noqa: BLE001 - see above
        log.warning("Report cache unavailable (read) for audit #%s; rendering from the database.", audit.pk,
                    exc_info=True)
        return {}


def _cache_set(key: str, value: dict, timeout: int, *, audit: Audit) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception:  # noqa: BLE001 - see above
        log.warning("Report cache unavailable (write) for audit #%s; the sections were not kept.", audit.pk,
                    exc_info=True)
