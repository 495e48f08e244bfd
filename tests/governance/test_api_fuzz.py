"""schemathesis over the whole OpenAPI schema, in-process against the WSGI app, as a token-authenticated
admin, with every check it has (server errors, status codes, content types, headers and bodies outside the
documented schema, schema-violating requests accepted, schema-valid requests rejected, authentication ignored,
unsupported methods, ...): it must report nothing.

Bounded: MAX_EXAMPLES generated requests per operation and generation mode (positive: requests the schema allows;
negative: requests it forbids), derandomized (the same cases every run), no Hypothesis deadline (a shared CI box
is slow; the load benchmark measures latency instead). The test runs inside one database transaction that never
commits, so the jobs that fuzzed POSTs create (training, audits, datasheets, PII scans) are enqueued on commit and
therefore never sent: no training runs, and every operation is still exercised with its validation and its writes.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from tests.factories import make_user, upload_hiring

pytestmark = pytest.mark.django_db

# Schema-valid requests that a rule no schema can express refuses with a 400 naming these inputs: an id of a row
# that does not exist (the fuzzer invents ids), wrong credentials, a file whose contents are not what the field
# takes, an instant that must lie in the future (or the past), a name needed unless an existing dataset is named,
# rules across items (word pairs, N of M approvers, fairness rules, expectations without the robustness tests).
# There, and only for a 400 that names nothing else, "schema-valid request rejected" is not a failure; every
# other check applies.
SEMANTIC_400 = {
    "POST /api/audits/": {"model_version", "dataset_version", "word_pairs", "counterfactual_groups", "scorer_version",
                          "robustness_expectations"},
    "GET /api/audits/compare/": {"a", "b"},
    "POST /api/auth/token/": {"non_field_errors"},
    "POST /api/datasets/": {"project", "name", "dataset", "file", "purposes", "lawful_basis", "text_column",
                            "label_column", "subject_column", "sensitive_attributes"},
    "POST /api/deployment-requests/": {"model_version", "audit"},
    "POST /api/deployment-requests/{id}/waivers/": {"expires_at"},
    "POST /api/deployments/retire/": {"model"},
    "POST /api/compliance/requests/": {"received_on"},
    "POST /api/compliance/requests/{id}/fulfil/": {"exception_reason"},  # needed when an exception is claimed
    "POST /api/compliance/erasure-impacts/{id}/decide/": {"justification"},  # needed to keep a version
    "PUT /api/deployment-policies/{environment}/": {"approvers", "required_approvals", "fairness_rules"},
    "POST /api/deployments/rollback/": {"model"},
    "POST /api/model-versions/": {"project", "dataset_version", "pretrained_encoder",
                                  "model_name"},  # a name holding versions of the other kind (decoder/classifier)
    "POST /api/model-versions/import-decoder/": {"project", "model_name", "archive"},
    "POST /api/model-versions/{id}/generate/": {"prompt", "strategy"},  # a classifier; a prompt past the model
    # A project's slug is unique; a member is a user that exists, holding a role once.
    "POST /api/projects/": {"name", "slug"},
    "POST /api/projects/{id}/members/": {"username", "role"},
    "DELETE /api/projects/{id}/members/": {"username", "role"},
    "POST /api/pretrained-encoders/": {"archive"},
    # Shares must add up to 1 over known part names and leave no part empty (too few subjects).
    "POST /api/dataset-versions/{id}/split/": {"shares"},
    # The zip's contents, a project one is a member of, Annex IV declarations, one label name per output.
    "POST /api/model-versions/import/": {"archive", "project", "declared_training_data", "intended_purpose",
                                         "label_names", "model_name"},
    # As POST /api/datasets/, and a size within the limit; a chunk's body must be octet-stream at the offset.
    "POST /api/dataset-uploads/": {"project", "name", "dataset", "size", "purposes", "lawful_basis", "text_column",
                                   "label_column", "subject_column", "sensitive_attributes", "file_name"},
    "POST /api/dataset-uploads/{id}/chunks/": {"chunk", "offset"},
    # Serving: a model or deployment that exists, decisions in the log, rules the fairness engine knows.
    "POST /api/service-tokens/": {"model"},
    "POST /api/monitoring-reports/": {"deployment"},
    "POST /api/decisions/outcomes/": {"outcomes"},
    "PUT /api/serving-policies/{environment}/": {"fairness_rules"},
}
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", 8))


def _schema_dict() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_survives_schemathesis_without_server_errors_or_schema_violations(settings_):
    import schemathesis
    from rest_framework.authtoken.models import Token
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from governance.wsgi import application

    admin = make_user(username="fuzz-admin")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    upload_hiring(admin, n_rows=40)  # something to list, page and filter
    headers = {"Authorization": f"Token {Token.objects.create(user=admin).key}"}

    schema = schemathesis.openapi.from_dict(_schema_dict())
    schema.app = application
    failures, operations = {}, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                response = case.call(headers=headers)
                semantic = SEMANTIC_400.get(operation.label) if mode is GenerationMode.POSITIVE else None
                if not semantic:
                    case.validate_response(response, headers=headers)  # every check schemathesis has
                    return
                case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
                if response.status_code == 400:
                    named = set(response.json())
                    assert named <= semantic, f"a schema-valid request refused naming {sorted(named - semantic)}"

            try:
                run()
            except Unsatisfiable:  # negative mode on an operation with no input: there is nothing to violate
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failing operation
                failures[f"{operation.label} [{mode.value}]"] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert operations >= 20
    assert not failures, "\n\n".join(f"{label}\n{error}" for label, error in failures.items())


@pytest.fixture
def settings_(settings):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    settings.JOB_DISPATCH = "celery"  # nothing leaves: the test transaction never commits
    settings.ALLOWED_HOSTS = ["*"]
    # As Django's test client does: the raw WSGI handler would close the test's connection per request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield settings
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
