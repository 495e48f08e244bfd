from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone

from governance.permissions import READ_ROLES, role_required
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.audits import exports, report, selectors, services
from governance.audits.forms import AuditCompareForm, AuditForm, AuditTextRevealForm
from governance.audits.minimisation import masked_texts
from governance.audits.models import Audit, AuditStatus
from governance.errors import DomainError
from governance.form_errors import call_service
from governance.list_filters import ListFilters


@login_required
@role_required(*READ_ROLES)
def audit_list(request):
    filters = ListFilters.from_query(request.GET, statuses=AuditStatus.values)
    page = Paginator(selectors.audit_search(user=request.user, filters=filters), 25).get_page(request.GET.get("page"))
    return render(request, "audits/list.html", {"page": page, "filters": filters, "statuses": AuditStatus.choices,
                                                "extra_query": filters.querystring()})


@login_required
@role_required(ML_ENGINEER)
def audit_new(request):
    initial = {"model_version": request.GET.get("model_version"),
               "dataset_version": request.GET.get("dataset_version")}
    if initial["model_version"] and not initial["dataset_version"]:  # suggest the holdout of its training split
        initial["dataset_version"] = selectors.audit_suggested_dataset(user=request.user,
                                                                       model_version_id=initial["model_version"])
    form = AuditForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        audit = call_service(form, services.audit_request, actor=request.user, **form.cleaned_data)
        if audit is not None:
            return redirect("audit", pk=audit.pk)
    return render(request, "audits/new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def audit_compare(request):
    """Two audits side by side (journey 1 step 5); the choice travels in the query string."""
    form = AuditCompareForm(request.GET if request.GET.get("a") and request.GET.get("b") else None,
                            initial={"a": request.GET.get("a"), "b": request.GET.get("b")}, user=request.user)
    comparison = None
    if form.is_bound and form.is_valid():
        comparison = call_service(form, selectors.audit_comparison, **form.cleaned_data)
    status = 400 if form.errors else 200
    return render(request, "audits/compare.html", {"form": form, "comparison": comparison}, status=status)


@login_required
@role_required(*READ_ROLES)
def audit_detail(request, pk: int):
    try:
        context = report.audit_report(audit_id=pk, user=request.user)
    except Audit.DoesNotExist:
        raise Http404("No such audit.") from None
    return render(request, "audits/report.html", context)


@login_required
@role_required(*READ_ROLES)
def audit_export(request, pk: int, fmt: str):
    """The report as one self-contained HTML file (styles and charts inline, no script) or as a PDF."""
    try:
        context = report.report_context(audit_id=pk, user=request.user)
    except Audit.DoesNotExist:
        raise Http404("No such audit.") from None
    audit = context["audit"]

    def render_html(document: dict) -> str:
        exported = {"at": timezone.now(), "by": request.user.username}
        return render_to_string("audits/report.html", {
            **context, "base_template": "audits/export_base.html", "exported": exported, "document": document,
            "inline_css": _inline_css()}, request=request)

    try:
        export = exports.audit_report_export(
            actor=request.user, audit=audit, fmt=fmt, render_html=render_html,
            content=exports.audit_report_content(audit=audit, results=context["results"],
                                                 verdicts=context["verdicts"]))
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("audit", pk=pk)
    response = HttpResponse(export.body, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-SHA256"] = export.sha256
    return response


@login_required
@role_required(REVIEWER, COMPLIANCE_OFFICER)
def audit_text_reveal(request, pk: int):
    """Choose one masked text of the report and say why; the answer shows it unmasked (logged)."""
    try:
        audit = selectors.audit_get(audit_id=pk, user=request.user)
    except Audit.DoesNotExist:
        raise Http404("No such audit.") from None
    texts = masked_texts(selectors.audit_results(audit=audit))
    form = AuditTextRevealForm(request.POST or None, texts=texts)
    revealed = None
    if request.method == "POST" and form.is_valid():
        text = call_service(form, services.audit_text_reveal, actor=request.user, audit=audit,
                            **form.cleaned_data)
        if text is not None:
            revealed = {"ref": form.cleaned_data["ref"], "text": text}
    return render(request, "audits/reveal.html", {"audit": audit, "form": form, "texts": texts,
                                                  "revealed": revealed}, status=400 if form.errors else 200)


def _inline_css() -> str:
    path = finders.find("css/app.css")
    return Path(path).read_text() if path else ""
