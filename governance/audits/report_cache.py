"""The report page's sections, rendered once and kept in the cache (issue 9).

A complete audit's stored results never change (a re-run is a new Audit), so the sections drawn from them
alone (fairness rules, performance, fairness tables and charts, counterfactuals, explanations, compute) are
kept per audit and result hash. The sections that also read other rows are kept per audit-log head: the
heading (the names of the model, dataset and requester), the verdict of each environment's deployment
policy (the policies, the training data's declared metadata, the audit's age in days, which is in the key),
and the lineage and evidence (deployments).
Every change to that state appends to the hash-chained audit log in its own transaction
(compliance.services.audit_log_append), so a new head means something may have changed, and a new key.

What belongs to the reader is never cached: the sections are rendered without the request, so no context
processor, user, role or CSRF token can reach them; the page around them (the actions the reader may take,
the logout form, their name) is rendered fresh on every request. Exports and audits that are not complete
do not come here: they render every section from the database, as before.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from governance.audits.models import Audit, AuditStatus

STORED_TTL_S = 7 * 24 * 3600
# The live sections also expire, which bounds how long a write that bypassed the services (the admin site, a
# shell, a data migration: no audit-log entry) can go unseen.
LIVE_TTL_S = 10 * 60
LIVE_SECTIONS = {"heading": "audits/_heading.html", "policy_verdict": "audits/_policy_verdict.html",
                 "lineage": "audits/_lineage.html"}
STORED_SECTIONS = {"stored_results": "audits/_stored_results.html"}


@functools.cache
def code_version() -> str:
    """A digest of the templates and the Python code that draw the sections, so that a release that changes
    how they look renders them anew instead of serving the previous release's HTML from a shared cache."""
    digest = hashlib.sha256()
    for folder, pattern in (("templates", "**/*.html"), ("governance", "**/*.py")):
        for path in sorted((settings.BASE_DIR / folder).glob(pattern)):
            digest.update(str(path.relative_to(settings.BASE_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def report_sections(*, audit: Audit, log_head: int, context: Callable[[datetime], dict]) -> dict[str, SafeString]:
    """The rendered sections of a complete audit's report page, from the cache or rendered and cached.

    `log_head` is the audit log's sequence number, read before anything the live sections show: `context(now)`
    builds the report's full context from fresh reads (judging the policies at `now`) and is called only when
    a section is missing, so what it reads is at least as new as the head in the key; a rendering is never
    filed under a newer head than its data."""
    if audit.status != AuditStatus.COMPLETE:
        raise ValueError(f"Only a complete audit's report is cached; audit #{audit.pk} is {audit.status}.")
    now = timezone.now()
    age_days = (now - audit.finished_at).days if audit.finished_at else None
    prefix = f"audit-report:{code_version()}:{audit.pk}:{audit.result_hash}"
    keys = {"stored": f"{prefix}:stored", "live": f"{prefix}:live:{log_head}:{age_days}"}
    found = cache.get_many(keys.values())
    sections = {**found.get(keys["stored"], {}), **found.get(keys["live"], {})}
    if len(sections) < len(STORED_SECTIONS) + len(LIVE_SECTIONS):
        full = context(now)
        rendered = {}
        for part, templates, timeout in (("stored", STORED_SECTIONS, STORED_TTL_S),
                                         ("live", LIVE_SECTIONS, LIVE_TTL_S)):
            if keys[part] not in found:
                # No request: nothing about the reader can enter a section kept for every reader.
                rendered[part] = {name: render_to_string(template, full) for name, template in templates.items()}
                cache.set(keys[part], rendered[part], timeout)
        sections = {**sections, **rendered.get("stored", {}), **rendered.get("live", {})}
    # Our own templates' output, autoescaped when rendered.
    return {name: mark_safe(html) for name, html in sections.items()}  # nosec B308 B703
