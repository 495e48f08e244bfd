from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.permissions import READ_ROLES, role_required
from governance.roles import ML_ENGINEER, REVIEWER
from governance.form_errors import call_service
from governance.list_filters import ListFilters
from governance.registry import decoder_imports, decoders, imports, mitigation, selectors, services
from governance.registry.forms import (DecoderImportForm, DeploymentChangeForm, GenerateForm, ModelImportForm,
                                       TrainForm)
from governance.registry.forms import MitigationForm, PretrainedEncoderForm
from governance.registry.models import Model, ModelVersion
from governance.uploads import accepts_uploads, upload_refusals


@login_required
@role_required(*READ_ROLES)
def model_list(request):
    filters = ListFilters.from_query(request.GET)
    page = Paginator(selectors.model_search(user=request.user, filters=filters), 25).get_page(request.GET.get("page"))
    return render(request, "registry/list.html", {"page": page, "filters": filters,
                                                  "extra_query": filters.querystring()})


@login_required
@role_required(*READ_ROLES)
def model_detail(request, pk: int):
    try:
        context = selectors.model_page(model_id=pk, user=request.user)
    except Model.DoesNotExist:
        raise Http404("No such model.") from None
    return render(request, "registry/model.html", context)


@login_required
@role_required(*READ_ROLES)
def model_version_detail(request, pk: int):
    try:
        context = selectors.model_version_page(version_id=pk, user=request.user)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    return render(request, "registry/version.html", context)


@login_required
@role_required(ML_ENGINEER)
def model_train(request):
    suggested = selectors.training_suggested_dataset(user=request.user,
                                                     dataset_version_id=request.GET.get("dataset_version"))
    form = TrainForm(request.POST or None, initial={"dataset_version": suggested}, user=request.user)
    if request.method == "POST" and form.is_valid():
        version = call_service(form, services.model_version_request_training, actor=request.user,
                               **form.cleaned_data)
        if version is not None:
            return redirect("model-version", pk=version.pk)
    return render(request, "registry/train.html", {"form": form}, status=400 if form.errors else 200)


def _model(request, pk: int) -> Model:
    try:
        return selectors.model_get(model_id=pk, user=request.user)
    except Model.DoesNotExist:
        raise Http404("No such model.") from None


def _timeline(request, model: Model, form=None, status=200):
    return render(request, "registry/timeline.html", {**selectors.model_timeline_page(model=model),
                                                      "form": form or DeploymentChangeForm()}, status=status)


@login_required
@role_required(*READ_ROLES)
def model_timeline(request, pk: int):
    return _timeline(request, _model(request, pk))


@login_required
@role_required(ML_ENGINEER, REVIEWER)
@require_POST
def deployment_change(request, pk: int, action: str):
    model = _model(request, pk)
    service = {"rollback": services.deployment_rollback, "retire": services.deployment_retire}.get(action)
    if service is None:
        raise Http404("No such action.")
    form = DeploymentChangeForm(request.POST)
    if form.is_valid() and call_service(form, service, actor=request.user, model=model,
                                        **form.cleaned_data) is not None:
        return redirect("model-timeline", pk=pk)
    return _timeline(request, model, form=form, status=400)


@login_required
@role_required(ML_ENGINEER)
def model_version_mitigate(request, pk: int):
    try:
        version = selectors.model_version_get(version_id=pk, user=request.user)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    form = MitigationForm(request.POST or None, initial={"dataset_version": request.GET.get("dataset_version")
                                                         or version.dataset_version_id}, user=request.user)
    if request.method == "POST" and form.is_valid():
        child = call_service(form, mitigation.model_version_mitigate, actor=request.user, model_version=version,
                             **form.cleaned_data)
        if child is not None:
            return redirect("model-version", pk=child.pk)
    return render(request, "registry/mitigate.html", {"form": form, "version": version},
                  status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
@accepts_uploads(roles=(ML_ENGINEER,), max_bytes_setting="PRETRAINED_UPLOAD_MAX_BYTES", field="archive")
def pretrained_encoder_list(request):
    """Registered external encoders, and (ML engineers) the form that registers one from a zip."""
    form = None
    if selectors.pretrained_encoder_can_register(user=request.user):
        refused = upload_refusals(request)  # UploadGuard stopped reading the zip at the limit
        posted = request.method == "POST"  # bound even when the guard left the body unread (empty)
        form = PretrainedEncoderForm(request.POST if posted else None, request.FILES if posted else None)
        if refused:
            form.is_valid()
            for field, message in refused.items():
                form.add_error(field if field in form.fields else None, message)
    elif request.method == "POST":
        raise PermissionDenied("Registering an encoder needs the ML engineer role.")
    if request.method == "POST" and not form.errors and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("archive")
        encoder = call_service(form, services.pretrained_encoder_register, actor=request.user, archive=upload,
                               file_name=upload.name, size=upload.size, **fields)
        if encoder is not None:
            return redirect("pretrained-encoders")
    return render(request, "registry/encoders.html",
                  {"form": form, "encoders": selectors.pretrained_encoder_list()},
                  status=400 if form is not None and form.errors else 200)


@login_required
@role_required(ML_ENGINEER)
@accepts_uploads(roles=(ML_ENGINEER,), max_bytes_setting="MODEL_IMPORT_MAX_BYTES", field="archive")
def model_version_import(request):
    """Import a classifier fine-tuned elsewhere as a model version (lineage "external")."""
    posted = request.method == "POST"
    form = ModelImportForm(request.POST if posted else None, request.FILES if posted else None, user=request.user)
    refused = upload_refusals(request) if posted else {}
    if refused:
        form.is_valid()
        for field, message in refused.items():
            form.add_error(field if field in form.fields else None, message)
    elif posted and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("archive")
        version = call_service(form, imports.model_version_import, actor=request.user, archive=upload,
                               file_name=upload.name, size=upload.size, **fields)
        if version is not None:
            return redirect("model-version", pk=version.pk)
    return render(request, "registry/import.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def model_version_playground(request, pk: int):
    """Continue a prompt with a generative version (registry.decoders.model_version_generate)."""
    try:
        version = selectors.model_version_list(user=request.user).select_related("model").get(pk=pk)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None
    form = GenerateForm(request.POST or None)
    output = None
    if request.method == "POST" and form.is_valid():
        output = call_service(form, decoders.model_version_generate, actor=request.user, version=version,
                              **form.cleaned_data)
    return render(request, "registry/playground.html", {"version": version, "form": form, "output": output},
                  status=400 if form.errors else 200)


@login_required
@role_required(ML_ENGINEER)
@accepts_uploads(roles=(ML_ENGINEER,), max_bytes_setting="PRETRAINED_UPLOAD_MAX_BYTES", field="archive")
def decoder_import(request):
    """Import a zipped Hugging Face GPT-2 folder as a ready generative version (registry.decoder_imports)."""
    refused = upload_refusals(request)  # UploadGuard stopped reading the zip at the limit
    posted = request.method == "POST"
    form = DecoderImportForm(request.POST if posted else None, request.FILES if posted else None, user=request.user)
    if refused:
        form.is_valid()
        for field, message in refused.items():
            form.add_error(field if field in form.fields else None, message)
    if posted and not form.errors and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("archive")
        version = call_service(form, decoder_imports.decoder_version_import, actor=request.user, archive=upload,
                               file_name=upload.name, size=upload.size, **fields)
        if version is not None:
            return redirect("model-version", pk=version.pk)
    return render(request, "registry/import_decoder.html", {"form": form}, status=400 if form.errors else 200)
