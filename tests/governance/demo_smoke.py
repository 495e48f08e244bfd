"""Run by tests/governance/test_demo_database.py in a subprocess under the demo's settings on a fresh SQLite
file: the embedded default must serve what PostgreSQL serves. Builds a small audited model through the
services (jobs inline), then requests every page and every API GET of the OpenAPI schema, each query
parameter once with a value of its type, as four roles; prints one line per 5xx and `SMOKE ok <n>` at the end.
"""

from __future__ import annotations

import json
import logging
import re

import django


def main() -> None:
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client

    from governance import roles
    from governance.accounts.services import user_create
    from governance.audits.services import audit_request
    from governance.datasets.services import dataset_upload
    from governance.registry.services import model_version_request_training
    from models_core.synthetic import SyntheticSpec, hiring_csv

    call_command("migrate", verbosity=0)
    settings.JOB_DISPATCH = "inline"
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    users = {role: user_create(username=role, password=f"{role}-smoke-pass-1", roles=[role])
             for role in (roles.ML_ENGINEER, roles.REVIEWER, roles.COMPLIANCE_OFFICER, roles.AUDITOR)}
    engineer = users[roles.ML_ENGINEER]

    def upload(name, n, seed):
        with transaction.atomic():
            return dataset_upload(actor=engineer, name=name, raw=hiring_csv(SyntheticSpec(n_rows=n, seed=seed)).encode(),
                                  file_name=f"{name}.csv", text_column="text", label_column="hired",
                                  subject_column="subject_id", sensitive_attributes=["gender", "age_band"])

    train, holdout = upload("train", 120, 1), upload("holdout", 40, 2)
    with transaction.atomic():
        version = model_version_request_training(actor=engineer, model_name="smoke", dataset_version=train,
                                                 encoder="scratch", epochs=1)
    version.refresh_from_db()  # trained after the commit, by the inline job
    assert version.status == "ready", version.error
    with transaction.atomic():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=2)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    ids = {"audits": audit.pk, "dataset-versions": holdout.pk, "datasets": holdout.dataset_id,
           "model-versions": version.pk, "models": version.model_id}

    logging.disable(logging.CRITICAL)  # a 5xx is reported below, not as a traceback
    client = Client(HTTP_HOST="127.0.0.1")
    failures, requests = [], 0
    for user in users.values():
        client.force_login(user)
        spec = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/json").content)
        for path, operations in spec["paths"].items():
            if "get" not in operations:
                continue
            resource = path.strip("/").split("/")[1] if path.count("/") > 2 else ""
            url = re.sub(r"\{[^}]+\}", str(ids.get(resource, 1)), path)
            queries = [{}] + [{p["name"]: _value(p.get("schema", {}))}
                              for p in operations["get"].get("parameters", []) if p["in"] == "query"]
            for query in queries:
                requests += 1
                response = client.get(url, query, HTTP_ACCEPT="application/json")
                if response.status_code >= 500:
                    failures.append(f"{user.username} GET {url} {query} -> {response.status_code}")
        for page in ("/", "/audits/", f"/audits/{audit.pk}/", f"/audits/{audit.pk}/", "/datasets/", "/models/",
                     "/approvals/", "/approvals/policies/", "/compliance/", "/jobs/"):
            requests += 1
            response = client.get(page)
            if response.status_code >= 500:
                failures.append(f"{user.username} GET {page} -> {response.status_code}")
    for line in failures:
        print("SMOKE 5xx", line)
    print(f"SMOKE {'ok' if not failures else 'failed'} {requests}")


def _value(schema: dict) -> str:
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    if schema.get("format") == "date":
        return "2026-01-01"
    return {"boolean": "true", "integer": "1", "number": "1"}.get(schema.get("type"), "x")


if __name__ == "__main__":
    main()
