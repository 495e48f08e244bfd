"""Pages of the GDPR and AI Act records for the compliance officer (auditors read): the overview, profile,
record of processing files, subject requests, erasure decisions, retention runs, PII pseudonymisation, Annex IV.
Reads come from selectors, writes go through the services, role checks through governance.permissions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.auditlog.exports import ExportFile
from governance.compliance import documentation, exports, retention, selectors, services, subject_requests
from governance.compliance.forms import (DatasetMetadataForm, DecisionForm, ExtendForm, FulfilForm,
                                         ModelDocumentationForm, OrganisationProfileForm, SubjectRequestForm)
from governance.compliance.models import ErasureImpact, RequestKind, SubjectRequest, SubjectRequestStatus
from governance.datasets import pii_scans
from governance.datasets import services as datasets_services
from governance.datasets.selectors import dataset_list, dataset_version_list
from governance.errors import DomainError
from governance.form_errors import call_service
from governance.permissions import role_required, writes_require
from governance.roles import AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER

OFFICER_OR_AUDITOR = (COMPLIANCE_OFFICER, AUDITOR)


def _file(export: ExportFile) -> HttpResponse:
    response = HttpResponse(export.body, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def _fmt(request, allowed=("json", "pdf")) -> str | None:
    fmt = request.GET.get("as", "json")
    return fmt if fmt in allowed else None


def _bad_format(allowed=("json", "pdf")) -> HttpResponse:
    return HttpResponse(f"Unknown export format; choose one of: {', '.join(allowed)}.", status=400,
                        content_type="text/plain")


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
def compliance_home(request):
    return render(request, "compliance/home.html", {
        "profile": selectors.organisation_profile(), "record": exports.processing_record()})


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
def processing_record_export(request):
    """The record of processing as JSON (the same logged export as processing_record_file's ?as=json)."""
    return _file(exports.processing_record_file(actor=request.user, fmt="json"))


@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
def profile_edit(request):
    form = OrganisationProfileForm(request.POST or None, instance=selectors.organisation_profile())
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.fields}
        if call_service(form, services.organisation_profile_update, actor=request.user, **fields) is not None:
            messages.success(request, "Organisation profile saved.")
            return redirect("compliance")
    return render(request, "compliance/profile.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
def processing_record_file(request):
    allowed = ("json", "csv", "pdf")
    fmt = _fmt(request, allowed)
    if fmt is None:
        return _bad_format(allowed)
    return _file(exports.processing_record_file(actor=request.user, fmt=fmt))


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
@writes_require(COMPLIANCE_OFFICER, message="Only a compliance officer registers requests.")
def subject_request_list(request):
    form = SubjectRequestForm(request.POST or None, initial={"kind": request.GET.get("kind", RequestKind.ACCESS)})
    if request.method == "POST" and form.is_valid():
        created = call_service(form, subject_requests.subject_request_register, actor=request.user,
                               **form.cleaned_data)
        if created is not None:
            messages.success(request, f"Registered {created}; due {created.due_on}.")
            return redirect("subject-request", pk=created.pk)
    page = Paginator(selectors.subject_request_list(), 25).get_page(request.GET.get("page"))
    return render(request, "compliance/requests.html",
                  {"form": form, "page": page, "pending": selectors.erasure_impacts_pending()},
                  status=400 if form.errors else 200)


def _detail_context(subject_request: SubjectRequest, **forms) -> dict:
    context = {"req": subject_request, "extend_form": ExtendForm(), "fulfil_form": FulfilForm(),
               "impacts": [(impact, DecisionForm(prefix=f"i{impact.pk}"))
                           for impact in selectors.erasure_impact_list(request=subject_request)],
               "open": subject_request.status == SubjectRequestStatus.OPEN}
    if subject_request.kind == RequestKind.ACCESS:
        context["answer"] = exports.access_answer(subject_request)
    elif context["open"] and subject_request.subject_id:
        context["erasure_mentions"] = selectors.subject_mentions(subject_id=subject_request.subject_id)
    context.update(forms)
    return context


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
def subject_request_detail(request, pk: int):
    subject_request = get_object_or_404(SubjectRequest.objects.select_related("created_by"), pk=pk)
    return render(request, "compliance/request.html", _detail_context(subject_request))


def _post_action(request, pk: int, form_class, service, success: str, **kwargs):
    subject_request = get_object_or_404(SubjectRequest, pk=pk)
    form = form_class(request.POST)
    if form.is_valid() and call_service(form, service, actor=request.user, request=subject_request,
                                        **form.cleaned_data, **kwargs) is not None:
        messages.success(request, success)
        return redirect("subject-request", pk=pk)
    subject_request.refresh_from_db()
    name = "extend_form" if form_class is ExtendForm else "fulfil_form"
    return render(request, "compliance/request.html", _detail_context(subject_request, **{name: form}),
                  status=400)


@require_POST
@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
def subject_request_extend(request, pk: int):
    return _post_action(request, pk, ExtendForm, subject_requests.subject_request_extend, "Deadline extended.")


@require_POST
@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
def erasure_fulfil(request, pk: int):
    return _post_action(request, pk, FulfilForm, subject_requests.erasure_request_fulfil,
                        "Erasure recorded. Decide for each flagged model version below.")


@require_POST
@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
def erasure_impact_decide(request, pk: int):
    impact = get_object_or_404(ErasureImpact.objects.select_related("request"), pk=pk)
    form = DecisionForm(request.POST, prefix=f"i{impact.pk}")
    if form.is_valid() and call_service(form, subject_requests.erasure_impact_decide, actor=request.user,
                                        impact=impact, **form.cleaned_data) is not None:
        messages.success(request, "Decision recorded.")
        return redirect("subject-request", pk=impact.request_id)
    context = _detail_context(impact.request)
    context["impacts"] = [(i, form if i.pk == impact.pk else f) for i, f in context["impacts"]]
    return render(request, "compliance/request.html", context, status=400)


def _export_or_400(request, pk: int, service) -> HttpResponse:
    subject_request = get_object_or_404(SubjectRequest, pk=pk)
    fmt = _fmt(request)
    if fmt is None:
        return _bad_format()
    try:
        return _file(service(actor=request.user, request=subject_request, fmt=fmt))
    except DomainError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")


@login_required
@role_required(COMPLIANCE_OFFICER, org_wide=True)
def access_answer_file(request, pk: int):
    return _export_or_400(request, pk, subject_requests.access_answer_export)


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
def erasure_certificate_file(request, pk: int):
    return _export_or_400(request, pk, subject_requests.erasure_certificate_export)


@login_required
@role_required(*OFFICER_OR_AUDITOR, org_wide=True)
@writes_require(COMPLIANCE_OFFICER, message="Only a compliance officer runs the purge.")
def retention_runs(request):
    if request.method == "POST":
        run = retention.retention_purge(actor=request.user)
        messages.success(request, f"Retention purge removed {run.records_removed} record(s).")
        return redirect("retention-runs")
    page = Paginator(selectors.retention_run_list(), 25).get_page(request.GET.get("page"))
    return render(request, "compliance/retention.html",
                  {"page": page, "schedule": selectors.retention_schedule(task=retention.TASK_NAME)})


@login_required
@role_required(*OFFICER_OR_AUDITOR)
def annex_iv_list(request):
    page = Paginator(selectors.annex_iv_versions(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "compliance/annex_iv_list.html", {"page": page})


@login_required
@role_required(*OFFICER_OR_AUDITOR)
@writes_require(COMPLIANCE_OFFICER, message="Only a compliance officer edits the documentation.")
def annex_iv_page(request, pk: int):
    version = get_object_or_404(selectors.annex_iv_version(user=request.user), pk=pk)
    form = ModelDocumentationForm(request.POST or None, instance=selectors.model_documentation_get(model=version.model),
                                  initial={"intended_purpose": version.model.intended_purpose})
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in documentation.EDITABLE}
        if call_service(form, documentation.model_documentation_update, actor=request.user, model=version.model,
                        intended_purpose=form.cleaned_data["intended_purpose"], **fields) is not None:
            messages.success(request, "Documentation saved.")
            return redirect("annex-iv", pk=version.pk)
    return render(request, "compliance/annex_iv.html",
                  {"version": version, "content": documentation.annex_iv(version), "form": form},
                  status=400 if form.errors else 200)


@login_required
@role_required(*OFFICER_OR_AUDITOR)
def annex_iv_file(request, pk: int):
    fmt = _fmt(request)
    if fmt is None:
        return _bad_format()
    version = get_object_or_404(selectors.annex_iv_version(user=request.user), pk=pk)
    return _file(documentation.annex_iv_file(actor=request.user, model_version=version, fmt=fmt))


@require_POST
@login_required
@role_required(ML_ENGINEER, COMPLIANCE_OFFICER)
def dataset_version_pseudonymise(request, pk: int):
    version = get_object_or_404(dataset_version_list(user=request.user), pk=pk)
    try:
        new = datasets_services.dataset_version_pseudonymise(actor=request.user, version=version)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("dataset-version", pk=version.pk)
    messages.success(request, f"Created {new}: {new.note}")
    return redirect("dataset-version", pk=new.pk)


@login_required
@role_required(*OFFICER_OR_AUDITOR)
def dataset_metadata_list(request):
    page = Paginator(selectors.dataset_metadata_list(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "compliance/datasets.html", {"page": page})


@login_required
@role_required(COMPLIANCE_OFFICER)
def dataset_metadata_edit(request, pk: int):
    dataset = get_object_or_404(dataset_list(user=request.user), pk=pk)
    form = DatasetMetadataForm(request.POST or None, instance=dataset)
    if request.method == "POST" and form.is_valid():
        dataset.refresh_from_db()  # the form wrote its values onto the instance; the service compares and logs
        if call_service(form, datasets_services.dataset_metadata_update, actor=request.user, dataset=dataset,
                        **form.cleaned_data) is not None:
            messages.success(request, f"Personal-data metadata of {dataset} saved.")
            return redirect("compliance-datasets")
    return render(request, "compliance/dataset_metadata.html", {"form": form, "dataset": dataset},
                  status=400 if form.errors else 200)


@require_POST
@login_required
@role_required(ML_ENGINEER, COMPLIANCE_OFFICER)
def pii_scan_start(request, pk: int):
    version = get_object_or_404(dataset_version_list(user=request.user), pk=pk)
    try:
        pii_scans.pii_scan_start(actor=request.user, version=version)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The PII scan of {version} is queued.")
    return redirect("dataset-version", pk=version.pk)
