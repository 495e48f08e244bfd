"""The list pages and list APIs with a few hundred rows: search, filters and pagination, in a number of
queries that does not grow with the rows shown (no N+1). Rows are bulk-created: this is about reading."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.approvals.models import DeploymentRequest, RequestStatus
from governance.audits.models import Audit, AuditStatus
from governance.datasets.models import Dataset, DatasetVersion
from governance.registry.models import Model, ModelVersion
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
N = 300
# measured 6 (7 with the reviewer inbox): session, user, its groups, count, one page of rows; an N+1 adds 25
MAX_QUERIES = 8


@pytest.fixture
def many(engineer):
    from governance.accounts.projects import project_default

    project = project_default()
    datasets = Dataset.objects.bulk_create(Dataset(project=project, name=f"applicants-{i:03d}", owner=engineer)
                                           for i in range(N))
    versions = DatasetVersion.objects.bulk_create(
        DatasetVersion(dataset=d, version=1, sha256=f"{i:064x}", row_count=10, file_name="a.csv", file_format="csv",
                       text_column="text", label_column="hired", subject_column="subject_id",
                       label_names=["no", "yes"], created_by=engineer) for i, d in enumerate(datasets))
    models = Model.objects.bulk_create(Model(project=project, name=f"screening-{i:03d}", owner=engineer)
                                       for i in range(N))
    model_versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=m, version=1, status="ready", dataset_version=versions[i], training_config={},
                     label_names=["no", "yes"], artifact_digest=f"{i:064x}", created_by=engineer)
        for i, m in enumerate(models))
    audits = Audit.objects.bulk_create(
        Audit(model_version=mv, dataset_version=versions[(i + 1) % N], requested_by=engineer,
              status=AuditStatus.COMPLETE if i % 3 else AuditStatus.FAILED, summary={"accuracy": 0.8},
              result_hash=f"{i:064x}") for i, mv in enumerate(model_versions))
    DeploymentRequest.objects.bulk_create(
        DeploymentRequest(model_version=a.model_version, environment="staging", audit=a, justification="pilot",
                          requested_by=engineer, status=RequestStatus.PENDING if i % 2 else RequestStatus.APPROVED,
                          artifact_digest=a.model_version.artifact_digest, audit_result_hash=a.result_hash)
        for i, a in enumerate(audits))
    return {"datasets": datasets, "models": models, "audits": audits}


@pytest.mark.parametrize("name", ["audits", "models", "datasets", "deployment-requests"])
def test_each_list_page_shows_a_page_of_hundreds_in_few_queries(client, reviewer, many, name,
                                                                django_assert_max_num_queries):
    client.login(username=reviewer.username, password=PASSWORD)
    for query in ("", "?page=2", "?q=0"):
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(reverse(name) + query)
        assert response.status_code == 200
    assert "Page 1 of" in client.get(reverse(name)).content.decode()


def test_audit_search_and_filters_narrow_the_list_and_survive_pagination(client, reviewer, many):
    client.login(username=reviewer.username, password=PASSWORD)
    body = client.get(reverse("audits"), {"q": "screening-017"}).content.decode()
    assert "screening-017 v1" in body and "screening-018 v1" not in body
    failed = client.get(reverse("audits"), {"status": "failed"}).content.decode()
    assert "badge complete" not in failed and "badge failed" in failed
    assert f"Page 1 of {-(-N // 3 // 25)}" in failed and "status=failed" in failed  # next-page link keeps it
    target = many["models"][42]
    by_model = client.get(reverse("audits"), {"model": target.pk}).content.decode()
    assert by_model.count("<tr>") == 2 and "screening-042 v1" in by_model  # header row + one audit
    nothing = client.get(reverse("audits"), {"q": "no such model"}).content.decode()
    assert "No audit matches these filters." in nothing
    assert client.get(reverse("audits"), {"status": "bogus", "model": "x"}).status_code == 200
    assert client.get(reverse("audits"), {"q": "screening\x00-017"}).status_code == 200


def test_request_and_model_and_dataset_search(client, reviewer, many):
    client.login(username=reviewer.username, password=PASSWORD)
    pending = client.get(reverse("deployment-requests"), {"status": "pending", "q": "screening-00"}).content.decode()
    assert "screening-001 v1" in pending and "screening-002 v1" not in pending  # 2 is approved
    models = client.get(reverse("models"), {"q": "screening-29"}).content.decode()
    assert models.count(">screening-29") == 10
    datasets = client.get(reverse("datasets"), {"q": "applicants-12"}).content.decode()
    assert datasets.count(">applicants-12") == 10
    assert "No dataset matches these filters." in client.get(reverse("datasets"), {"q": "zzz"}).content.decode()


def test_audit_list_api_takes_the_same_filters(api_client, engineer, many, django_assert_max_num_queries):
    api_client.force_authenticate(engineer)
    with django_assert_max_num_queries(6):
        data = api_client.get("/api/audits/", {"status": "failed"}).json()
    assert data["count"] == N // 3 and all(a["status"] == "failed" for a in data["results"])
    target = many["models"][7]
    data = api_client.get("/api/audits/", {"model": target.pk}).json()
    assert [a["model_name"] for a in data["results"]] == ["screening-007"]
    assert api_client.get("/api/audits/", {"q": "screening-007"}).json()["count"] == 1


def test_model_and_dataset_pages_link_to_their_filtered_lists(client, reviewer, many):
    client.login(username=reviewer.username, password=PASSWORD)
    model, dataset = many["models"][5], many["datasets"][5]
    assert f'href="/audits/?model={model.pk}"' in client.get(reverse("model", args=[model.pk])).content.decode()
    page = client.get(reverse("dataset", args=[dataset.pk])).content.decode()
    assert f'href="/models/?dataset={dataset.pk}"' in page
    trained = client.get(reverse("models"), {"dataset": dataset.pk}).content.decode()
    assert trained.count(">screening-") == 1 and ">screening-005<" in trained
