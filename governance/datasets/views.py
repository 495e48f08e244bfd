from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance.permissions import READ_ROLES, role_required
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER
from governance.datasets import presentation, selectors, services, splits
from governance.datasets.forms import (DatasetCompareForm, DatasetResampleForm, DatasetReweighForm,
                                       DatasetSplitForm, DatasetUploadForm)
from governance.datasets.models import Dataset, DatasetVersion
from governance.form_errors import call_service
from governance.list_filters import ListFilters
from governance.uploads import accepts_uploads, upload_refusals


@login_required
@role_required(*READ_ROLES)
def dataset_list(request):
    filters = ListFilters.from_query(request.GET)
    page = Paginator(selectors.dataset_search(user=request.user, filters=filters), 25).get_page(request.GET.get("page"))
    return render(request, "datasets/list.html", {"page": page, "filters": filters,
                                                  "extra_query": filters.querystring()})


@login_required
@role_required(ML_ENGINEER)
@accepts_uploads(roles=(ML_ENGINEER,), max_bytes_setting="DATASET_UPLOAD_MAX_BYTES", field="file")
def dataset_upload(request):
    refused = upload_refusals(request)  # UploadGuard stopped reading the file at the limit
    posted = request.method == "POST"  # bound even when the guard left the body unread (empty)
    form = DatasetUploadForm(request.POST if posted else None, request.FILES if posted else None,
                             user=request.user,
                             initial={"dataset": request.GET.get("dataset")})
    if refused:
        form.is_valid()
        for field, message in refused.items():
            form.add_error(field if field in form.fields else None, message)
    if request.method == "POST" and not refused and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("file")
        raw = upload.read(settings.DATASET_UPLOAD_MAX_BYTES + 1)  # one byte past the limit is enough to refuse
        version = call_service(form, services.dataset_upload, actor=request.user, raw=raw,
                               file_name=upload.name, **fields)
        if version is not None:
            return redirect("dataset-version", pk=version.pk)
    return render(request, "datasets/upload.html",
                  {"form": form, "inline_max": settings.DATASET_UPLOAD_MAX_BYTES,
                   "chunk_bytes": settings.DATASET_UPLOAD_CHUNK_BYTES}, status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def dataset_detail(request, pk: int):
    try:
        dataset = selectors.dataset_get(dataset_id=pk, user=request.user)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset.") from None
    versions = selectors.dataset_versions_of(dataset=dataset)
    return render(request, "datasets/detail.html", {
        "dataset": dataset, "versions": versions,
        "confirmation": selectors.dataset_metadata_confirmation(dataset=dataset)})


@require_POST
@login_required
@role_required(COMPLIANCE_OFFICER)
def dataset_metadata_confirm(request, pk: int):
    try:
        dataset = selectors.dataset_get(dataset_id=pk, user=request.user)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset.") from None
    errors = forms.Form(data={})
    errors.is_valid()  # bound and cleaned (empty), so a service's error can be added to it
    if call_service(errors, services.dataset_metadata_confirm, actor=request.user, dataset=dataset) is None:
        for error in errors.non_field_errors():
            messages.error(request, error)
    else:
        messages.success(request, "The personal-data metadata is confirmed as it stands.")
    return redirect("dataset", pk=pk)


@login_required
@role_required(*READ_ROLES)
def dataset_version_detail(request, pk: int):
    version = _version(request, pk)
    page = Paginator(selectors.records_of(version=version), 20).get_page(request.GET.get("page"))
    models = selectors.dataset_version_models(version=version)
    return render(request, "datasets/version.html", {"version": version, "page": page, "models": models,
                                                     "raw_texts": selectors.dataset_texts_readable_raw(user=request.user, version=version),
                                                     **_datasheet_context(version)})


def _version(request, pk: int) -> DatasetVersion:
    try:
        return selectors.dataset_version_get(version_id=pk, user=request.user)
    except DatasetVersion.DoesNotExist:
        raise Http404("No such dataset version.") from None


def _datasheet_context(version: DatasetVersion) -> dict:
    sheet = selectors.datasheet_get(version)
    return {"datasheet": sheet, "datasheet_job": selectors.datasheet_job(version=version),
            "resample_form": DatasetResampleForm(), "split_form": DatasetSplitForm(),
            "splits": splits.split_parts(version=version)}


@login_required
@role_required(*READ_ROLES)
def dataset_version_datasheet(request, pk: int):
    version = _version(request, pk)
    context = {"version": version, **_datasheet_context(version)}
    if context["datasheet"] is not None:
        sheet = context["datasheet"].data
        context.update(sheet=sheet, slices=presentation.slice_figures(sheet),
                       lengths=presentation.length_figures(sheet),
                       overall_rate=presentation.overall_positive_rate(sheet))
    return render(request, "datasets/datasheet.html", context)


@login_required
@role_required(*READ_ROLES)
def dataset_compare(request):
    """Drift between two versions (B against the reference A), with their datasheets side by side."""
    bound = "against" in request.GET and "version" in request.GET
    form = DatasetCompareForm(request.GET if bound else None, initial=request.GET.dict(), user=request.user)
    context = {"form": form}
    if bound and form.is_valid():
        a, b = form.cleaned_data["against"], form.cleaned_data["version"]
        # The pair's drift is computed once by a worker; the first visit queues it and shows its live bar.
        result = call_service(form, services.dataset_drift_request, actor=request.user, version=b, against=a)
        if result is not None:
            stored, job = result
            sheet_a, sheet_b = selectors.datasheet_get(a), selectors.datasheet_get(b)
            context.update(a=a, b=b, stored_drift=stored, drift=stored.data, job=job, sheet_a=sheet_a,
                           sheet_b=sheet_b, side_by_side=presentation.side_by_side(sheet_a and sheet_a.data,
                                                                                   sheet_b and sheet_b.data))
    return render(request, "datasets/compare.html", context, status=400 if form.errors else 200)


def _correction(request, pk: int, service, form_class, **extra):
    version = _version(request, pk)
    form = form_class(request.POST)
    new = None
    if form.is_valid():
        new = call_service(form, service, actor=request.user, version=version, **form.cleaned_data, **extra)
    if new is None:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("dataset-version", pk=version.pk)
    messages.success(request, f"Created {new}: {new.note} Its datasheet is being computed.")
    return redirect("dataset-version", pk=new.pk)


@require_POST
@login_required
@role_required(ML_ENGINEER)
def dataset_version_split(request, pk: int):
    version = _version(request, pk)
    form = DatasetSplitForm(request.POST)
    split = None
    if form.is_valid():
        split = call_service(form, splits.dataset_version_split, actor=request.user, version=version,
                             **form.service_arguments())
    if split is None:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("dataset-version", pk=version.pk)
    names = ", ".join(f"{p.split_role} {p}" for p in split.parts.order_by("version"))
    messages.success(request, f"Split {version} into {names}; their datasheets are being computed.")
    return redirect(f"{reverse('dataset-version', args=[version.pk])}#splits")


@require_POST
@login_required
@role_required(ML_ENGINEER)
def dataset_version_reweigh(request, pk: int):
    return _correction(request, pk, services.dataset_version_reweigh, DatasetReweighForm)


@require_POST
@login_required
@role_required(ML_ENGINEER)
def dataset_version_resample(request, pk: int):
    return _correction(request, pk, services.dataset_version_resample, DatasetResampleForm)


@login_required
@role_required(ML_ENGINEER)
def dataset_upload_detail(request, pk: int):
    """A large upload's state: bytes received, then the loading job's live bar, then the version."""
    from governance.datasets import large_uploads
    from governance.datasets.models import DatasetUpload

    try:
        upload = large_uploads.dataset_upload_get(user=request.user, upload_id=pk)
    except DatasetUpload.DoesNotExist:
        raise Http404("No such upload.") from None
    return render(request, "datasets/upload_status.html",
                  {"upload": upload, "job": large_uploads.dataset_upload_job(upload=upload)})
