"""The API's statuses: 401 with `WWW-Authenticate` for a request without credentials (403 stays for a signed-in
user whom a role or rule refuses), JSON 404s under /api/, and an OpenAPI schema that documents every error each
operation can answer with the project's error body (governance/api_schema.py). schemathesis holds the schema to
it over every operation: tests/governance/test_api_fuzz.py."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from governance.roles import AUDITOR
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("method,url", [("get", "/api/audits/"), ("get", "/api/deployment-requests/1/"),
                                        ("post", "/api/datasets/"), ("put", "/api/deployment-policies/staging/")])
def test_a_request_without_credentials_is_a_401_naming_the_scheme(method, url):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_wrong_token_is_a_401_and_a_refused_role_still_a_403(engineer):
    bad = APIClient(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567").get("/api/audits/")
    assert bad.status_code == 401 and bad["WWW-Authenticate"] == "Token"
    auditor = APIClient()
    auditor.force_login(make_user(AUDITOR))
    assert auditor.post("/api/datasets/", {}, format="json").status_code == 403
    browser = Client()  # the browser's session still works (progress.js polls the jobs API)
    browser.force_login(engineer)
    assert browser.get("/api/jobs/").status_code == 200


def test_a_path_under_api_that_matches_no_route_is_a_json_404(engineer):
    client = Client()
    client.force_login(engineer)
    response = client.get("/api/audits/not-a-number/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert b"Error 404" in client.get("/audits/not-a-number/").content  # pages keep the HTML page


def test_a_json_number_is_not_a_string(api_client, officer_with_request):
    officer, request = officer_with_request
    api_client.force_authenticate(officer)
    response = api_client.post(f"/api/deployment-requests/{request.pk}/comments/", {"body": 12345}, format="json")
    assert response.status_code == 400 and response.json() == {"body": ["Not a valid string."]}


def test_the_schema_documents_every_error_each_operation_can_answer():
    schema = _schema()
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["detail"] == {"type": "string"}
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses, label = operation["responses"], f"{method.upper()} {path}"
            assert "429" in responses, label
            if operation.get("security"):
                assert {"401", "403"} <= responses.keys(), label
                assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
            if "{" in path:
                assert "404" in responses, label
            if method in ("post", "put", "patch", "delete") and operation.get("security"):
                assert {"400", "409"} <= responses.keys(), label
            if "requestBody" in operation:
                assert "415" in responses, label
            for status, response in responses.items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    # the one Error schema, or one that extends it (a chunk's 409 names the offset to resume at)
                    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
                    assert body["properties"]["detail"] == {"type": "string"}, (label, status)
                    assert ref == "#/components/schemas/Error" or "detail" in body.get("required", []), (label, status)
            checked += 1
    assert checked >= 70
    token = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert "401" not in token and {"400", "429"} <= token.keys()  # the log-in itself needs no credentials


@pytest.fixture
def officer_with_request(engineer):
    from governance.approvals.services import deployment_request_create
    from governance.roles import COMPLIANCE_OFFICER
    from tests.governance.approvals.evidence import completed_audit, ready_version

    audit = completed_audit(ready_version(engineer))
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="pilot")
    return make_user(COMPLIANCE_OFFICER), request
