from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from governance.accounts.permissions import READ_ROLES, role_required
from governance.accounts.roles import ML_ENGINEER
from governance.datasets import selectors, services
from governance.datasets.forms import DatasetUploadForm
from governance.datasets.models import Dataset, DatasetVersion
from governance.form_errors import call_service


@login_required
@role_required(*READ_ROLES)
def dataset_list(request):
    page = Paginator(selectors.dataset_list(), 25).get_page(request.GET.get("page"))
    return render(request, "datasets/list.html", {"page": page})


@login_required
@role_required(ML_ENGINEER)
def dataset_upload(request):
    form = DatasetUploadForm(request.POST or None, request.FILES or None,
                             initial={"dataset": request.GET.get("dataset")})
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("file")
        version = call_service(form, services.dataset_upload, actor=request.user, raw=upload.read(),
                               file_name=upload.name, **fields)
        if version is not None:
            return redirect("dataset-version", pk=version.pk)
    return render(request, "datasets/upload.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@role_required(*READ_ROLES)
def dataset_detail(request, pk: int):
    dataset = get_object_or_404(Dataset.objects.select_related("owner"), pk=pk)
    versions = dataset.versions.select_related("created_by").order_by("-version")
    return render(request, "datasets/detail.html", {"dataset": dataset, "versions": versions})


@login_required
@role_required(*READ_ROLES)
def dataset_version_detail(request, pk: int):
    version = get_object_or_404(DatasetVersion.objects.select_related("dataset", "created_by", "parent"), pk=pk)
    page = Paginator(selectors.records_of(version=version), 20).get_page(request.GET.get("page"))
    models = version.model_versions.select_related("model").order_by("-created_at")
    return render(request, "datasets/version.html", {"version": version, "page": page, "models": models})
