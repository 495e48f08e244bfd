"""Projects scope everything: a member of project A sees none of project B's objects and reaches none of them.

The walk takes every route of the role walk (tests/governance/accounts/test_role_walk.py) whose URL names an
object of a project (a dataset, a dataset version, a model, a model version, an audit, a deployment request,
a project), points it at project B's object and sends it, as each role of project A that the route lets in,
with the route's method: every answer is a 404, never a 403 (which would tell that the object exists), never
a 2xx. The attacks then do what a hostile engineer of A would: train into B's model by naming it, add a
version to B's dataset, retire and roll back B's deployment, and look for B's objects in every list.
"""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from governance.accounts.models import Membership
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create)
from governance.auditlog.models import AuditLogEntry
from governance.registry.models import Deployment, ModelVersion
from governance.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from tests.factories import PASSWORD, hiring_bytes, make_project, make_user, upload_hiring
from tests.governance.accounts.test_role_walk import READS, WRITES, _routes, _send
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

ML, REV, CO, AUD = ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR
A_ROLES = (ML, REV, CO, AUD)  # held within project A only (a project's compliance officer and auditor too)


def _client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def two_projects():
    """Project B with a serving deployment (two approved versions of one model, so it can be rolled back),
    its datasets, audits and requests; project A with one member per role and a dataset of its own."""
    a, b = make_project("credit-risk"), make_project("hiring-team")
    officer = make_user(CO)  # organisation-wide: confirms metadata and sets the policy
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    b_engineer, b_reviewer = make_user(ML, project=b), make_user(REV, project=b)
    version = ready_version(b_engineer)
    first = completed_audit(version)
    served = deployment_request_create(actor=b_engineer, model_version=version, environment="staging", audit=first,
                                       justification="serve")
    deployment_request_approve(actor=b_reviewer, request_id=served.pk, password=PASSWORD)
    version = next_version(version)
    audit = completed_audit(version)
    request = deployment_request_create(actor=b_engineer, model_version=version, environment="staging", audit=audit,
                                        justification="serve the next one")
    deployment_request_approve(actor=b_reviewer, request_id=request.pk, password=PASSWORD)
    a_users = {role: make_user(role, project=a) for role in A_ROLES}
    a_dataset = upload_hiring(a_users[ML], n_rows=60, name="a-applicants")
    return {"a": a, "b": b, "a_users": a_users, "a_dataset_version": a_dataset, "b_engineer": b_engineer,
            "b_reviewer": b_reviewer, "audit": audit, "request": request, "version": version,
            "model": version.model, "dataset_version": version.dataset_version,
            "dataset": version.dataset_version.dataset}


def _b_object_pk(route: str, world: dict) -> int | None:
    """The pk of project B's object that `route` names, or None when it names no object of a project."""
    if route.startswith(("projects/", "api/projects/")):
        return world["b"].pk
    if "deployment-requests/" in route or route.startswith("approvals/"):
        return world["request"].pk
    if route.startswith(("models/versions", "api/model-versions")) or "annex-iv/" in route:
        return world["version"].pk
    if route.startswith(("models/", "api/models")):
        return world["model"].pk
    if "dataset-versions/" in route or route.startswith("datasets/versions"):
        return world["dataset_version"].pk
    if route.startswith(("datasets/", "api/datasets/", "compliance/datasets/")):
        return world["dataset"].pk
    if route.startswith(("audits/", "api/audits")):
        return world["audit"].pk
    return None


def _object_routes(world: dict) -> list[tuple[str, str, str, set]]:
    """(name, method, url, roles the route lets in) for every route naming one of project B's objects."""
    routes, found = _routes(), []
    table = [(name, "get", roles) for name, roles in READS.items()]
    table += [(name, method, roles) for name, (method, roles) in WRITES.items()]
    for name, method, roles in table:
        route = routes[name]
        if "<int:pk>" not in route:
            continue
        pk = _b_object_pk(route, world)
        if pk is None:
            continue
        kwargs = {"pk": pk}
        if "<str:action>" in route:
            kwargs["action"] = "retire"
        if "<str:fmt>" in route:
            kwargs["fmt"] = "json"
        found.append((name, method, reverse(name, kwargs=kwargs), set(roles)))
    return found


def test_a_member_of_one_project_gets_404_on_every_object_route_of_another(two_projects):
    world = two_projects
    checked = []
    for name, method, url, roles in _object_routes(world):
        for role in A_ROLES:
            if role not in roles:
                continue  # the role check answers 403 before any lookup (the role walk covers it)
            client = _client(world["a_users"][role])
            response = client.get(url) if method == "get" else _send(client, method, url, {"password": PASSWORD})
            checked.append(name)
            assert response.status_code == 404, (name, method, url, role, response.status_code)
    # the walk reached the pages and the API of every kind of object
    for name in ("dataset", "dataset-version", "model", "model-version", "audit", "deployment-request", "project",
                 "api-dataset", "api-dataset-version", "api-model-version", "api-audit", "api-request",
                 "api-dataset-records", "api-audit-predictions", "api-request-approve", "api-request-waivers",
                 "deployment-change", "annex-iv", "api-project-members"):
        assert name in checked, name


def test_an_engineer_cannot_train_into_another_projects_model_by_naming_it(two_projects):
    world = two_projects
    engineer, b_model = world["a_users"][ML], world["model"]
    before = ModelVersion.objects.filter(model=b_model).count()
    client = _client(engineer)
    # naming B's model trains a model of that name in A (names are unique within a project only)
    response = client.post("/api/model-versions/", {"model_name": b_model.name,
                                                     "dataset_version": world["a_dataset_version"].pk}, format="json")
    assert response.status_code == 202, response.content
    created = ModelVersion.objects.select_related("model").get(pk=response.json()["id"])
    assert created.model != b_model and created.model.project == world["a"]
    # naming B itself, or training on B's data, is refused with a field message
    response = client.post("/api/model-versions/", {"model_name": b_model.name, "project": world["b"].pk,
                                                     "dataset_version": world["a_dataset_version"].pk}, format="json")
    assert response.status_code == 400 and "project" in response.json()
    response = client.post("/api/model-versions/", {"model_name": "x", "dataset_version": world["dataset_version"].pk},
                           format="json")
    assert response.status_code == 400 and "dataset_version" in response.json()
    # the page refuses it the same way
    response = client.post(reverse("model-train"), {"model_name": b_model.name, "project": world["b"].pk,
                                                    "dataset_version": world["a_dataset_version"].pk,
                                                    "encoder": "pretrained", "epochs": 1, "seed": 0},
                           format="multipart")  # a page: a form post (APIClient's default here is JSON)
    assert response.status_code == 400
    assert ModelVersion.objects.filter(model=b_model).count() == before


def test_an_engineer_cannot_add_a_version_to_another_projects_dataset(two_projects):
    world = two_projects
    client = _client(world["a_users"][ML])
    b_dataset, b_version = world["dataset"], world["dataset_version"]
    before = b_dataset.versions.count()
    upload = io.BytesIO(hiring_bytes(60))
    upload.name = "hiring.csv"
    response = client.post("/api/datasets/", {"dataset": b_dataset.pk, "file": upload, "text_column": "text",
                                              "label_column": "hired", "subject_column": "subject_id"},
                           format="multipart")
    assert response.status_code == 404, response.content
    for action in ("reweigh", "resample"):
        assert client.post(f"/api/dataset-versions/{b_version.pk}/{action}/", {}, format="json").status_code == 404
    assert b_dataset.versions.count() == before


@pytest.mark.parametrize("action", ["retire", "rollback"])
def test_another_projects_deployment_cannot_be_retired_or_rolled_back(two_projects, action):
    world = two_projects
    serving = Deployment.objects.get(model_version__model=world["model"], environment="staging",
                                     ended_at__isnull=True)
    for role in (ML, REV):
        client = _client(world["a_users"][role])
        response = client.post(f"/api/deployments/{action}/", {"model": world["model"].pk, "environment": "staging",
                                                               "reason": "not yours"}, format="json")
        assert response.status_code == 404, (role, response.status_code, response.content)
        page = client.post(f"/models/{world['model'].pk}/deployments/{action}/", {"environment": "staging",
                                                                                 "reason": "not yours"},
                           format="multipart")
        assert page.status_code == 404
    serving.refresh_from_db()
    assert serving.ended_at is None
    assert not Deployment.objects.filter(model_version__model=world["model"], kind="rollback").exists()


LISTS = ["/api/datasets/", "/api/dataset-versions/", "/api/models/", "/api/model-versions/", "/api/deployments/",
         "/api/audits/", "/api/deployment-requests/", "/api/jobs/", "/api/projects/",
         "/datasets/", "/models/", "/audits/", "/approvals/", "/", "/projects/", "/compliance/annex-iv/",
         "/compliance/datasets/"]


def test_lists_never_show_another_projects_objects(two_projects):
    world = two_projects
    b_names = [world["model"].name, world["dataset"].name, world["b"].name]
    for role in A_ROLES:
        client = _client(world["a_users"][role])
        for url in LISTS:
            if url.startswith("/compliance/") and role not in (CO, AUD):
                continue
            response = client.get(url)
            assert response.status_code == 200, (role, url, response.status_code)
            body = response.content.decode()
            for name in b_names:
                assert not re.search(rf"\b{re.escape(name)}\b", body), (role, url, name)
    at = client.get("/api/deployments/at/", {"at": "2100-01-01T00:00:00Z", "environment": "staging"})
    assert at.json()["deployments"] == []
    # the owners of B, and the organisation-wide roles, see them
    for user in (world["b_engineer"], make_user(AUD), make_user(ADMIN)):
        body = _client(user).get("/api/models/").content.decode()
        assert world["model"].name in body


def test_roles_hold_in_their_own_project_only():
    """An engineer of A who reviews in B may approve B's requests and not A's."""
    a, b = make_project("a"), make_project("b")
    a_engineer = make_user(ML, project=a)
    both = make_user(ML, project=a)
    Membership.objects.create(user=both, project=b, role=REV)
    deployment_policy_update(actor=make_user(CO), environment="staging", required_approvals=1,
                             max_audit_age_days=None, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    b_engineer = make_user(ML, project=b)
    requests = {}
    for project, engineer in (("a", a_engineer), ("b", b_engineer)):
        audit = completed_audit(ready_version(engineer))
        requests[project] = deployment_request_create(actor=engineer, model_version=audit.model_version,
                                                      environment="staging", audit=audit, justification="go")
    client = _client(both)
    refused = client.post(f"/api/deployment-requests/{requests['a'].pk}/approve/", {"password": PASSWORD},
                          format="json")
    assert refused.status_code == 403
    approved = client.post(f"/api/deployment-requests/{requests['b'].pk}/approve/", {"password": PASSWORD},
                           format="json")
    assert approved.status_code == 200, approved.content


def test_creating_names_the_project_unless_the_user_has_only_one():
    a, b = make_project("a"), make_project("b")
    engineer = make_user(ML, project=a)
    assert upload_hiring(engineer, n_rows=60).dataset.project == a  # the only one
    Membership.objects.create(user=engineer, project=b, role=ML)
    engineer = type(engineer).objects.get(pk=engineer.pk)  # roles are read once a request
    upload = io.BytesIO(hiring_bytes(60))
    upload.name = "hiring.csv"
    fields = {"name": "two-projects", "file": upload, "text_column": "text", "label_column": "hired",
              "subject_column": "subject_id"}
    response = _client(engineer).post("/api/datasets/", fields, format="multipart")
    assert response.status_code == 400 and "project" in response.json()
    upload.seek(0)
    response = _client(engineer).post("/api/datasets/", {**fields, "project": b.pk}, format="multipart")
    assert response.status_code == 201, response.content
    outsider = make_project("c")
    upload.seek(0)
    response = _client(engineer).post("/api/datasets/", {**fields, "name": "x", "project": outsider.pk},
                                      format="multipart")
    assert response.status_code == 400 and "project" in response.json()


def test_officers_manage_projects_and_members_and_every_change_is_logged():
    officer, engineer = make_user(CO), make_user(ML)
    project_officer = make_user(CO, project=make_project("team"))  # a project's officer manages nothing
    created = _client(officer).post("/api/projects/", {"name": "Credit risk"}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    added = _client(officer).post(f"/api/projects/{pk}/members/", {"username": engineer.username,
                                                                  "role": ML}, format="json")
    assert added.status_code == 201, added.content
    assert _client(officer).post(f"/api/projects/{pk}/members/", {"username": engineer.username, "role": ML},
                                 format="json").status_code == 400  # held already
    assert _client(officer).post(f"/api/projects/{pk}/members/", {"username": "nobody-here", "role": ML},
                                 format="json").json() == {"username": ["No user with that username."]}
    members = _client(engineer).get(f"/api/projects/{pk}/members/").json()["results"]
    assert [(m["username"], m["role"]) for m in members] == [(engineer.username, ML)]
    removed = _client(officer).delete(f"/api/projects/{pk}/members/", {"username": engineer.username, "role": ML},
                                      format="json")
    assert removed.status_code == 204
    assert _client(engineer).get(f"/api/projects/{pk}/members/").status_code == 404  # no longer a member
    assert _client(engineer).post("/api/projects/", {"name": "mine"}, format="json").status_code == 403
    assert _client(project_officer).post("/api/projects/", {"name": "mine"}, format="json").status_code == 403
    actions = list(AuditLogEntry.objects.filter(object_type="accounts.project", object_id=str(pk))
                   .order_by("seq").values_list("action", flat=True))
    assert actions == ["project.created", "project.member_added", "project.member_removed"]


def test_the_records_of_no_project_need_an_organisation_wide_role(two_projects):
    """GDPR requests, the record of processing and retention concern every project: a project's own
    compliance officer or auditor reaches none of them, an organisation-wide one does."""
    world = two_projects
    urls = [reverse(name) for name in ("api-subject-requests", "api-processing-record", "api-organisation",
                                       "api-retention-runs", "compliance", "subject-requests", "retention-runs")]
    for role in (CO, AUD):
        client = _client(world["a_users"][role])
        for url in urls:
            assert client.get(url).status_code == 403, (role, url)
    org_officer = _client(make_user(CO))
    for url in urls:
        assert org_officer.get(url).status_code == 200, url
