from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from governance.accounts.permissions import READ_ROLES, role_required
from governance.accounts.roles import ML_ENGINEER
from governance.audits.selectors import audit_list
from governance.form_errors import call_service
from governance.jobs.selectors import job_for
from governance.registry import selectors, services
from governance.registry.forms import TrainForm
from governance.registry.models import Model


@login_required
@role_required(*READ_ROLES)
def model_list(request):
    page = Paginator(selectors.model_list(), 25).get_page(request.GET.get("page"))
    return render(request, "registry/list.html", {"page": page})


@login_required
@role_required(*READ_ROLES)
def model_detail(request, pk: int):
    model = get_object_or_404(Model.objects.select_related("owner"), pk=pk)
    versions = selectors.model_version_list().filter(model=model).order_by("-version")
    deployments = selectors.deployments_of(model=model)
    return render(request, "registry/model.html", {"model": model, "versions": versions,
                                                   "deployments": deployments})


@login_required
@role_required(*READ_ROLES)
def model_version_detail(request, pk: int):
    version = get_object_or_404(selectors.model_version_list().select_related("parent"), pk=pk)
    audits = audit_list().filter(model_version=version)
    deployments = version.deployments.all()
    return render(request, "registry/version.html", {
        "version": version, "audits": audits, "deployments": deployments, "job": job_for(version)})


@login_required
@role_required(ML_ENGINEER)
def model_train(request):
    form = TrainForm(request.POST or None, initial={"dataset_version": request.GET.get("dataset_version")})
    if request.method == "POST" and form.is_valid():
        version = call_service(form, services.model_version_request_training, actor=request.user,
                               **form.cleaned_data)
        if version is not None:
            return redirect("model-version", pk=version.pk)
    return render(request, "registry/train.html", {"form": form}, status=400 if form.errors else 200)
