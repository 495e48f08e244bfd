"""schemathesis over the whole OpenAPI schema, in-process against the WSGI app, as a token-authenticated
admin: no response may be a server error or break the documented schema.

Bounded: MAX_EXAMPLES generated requests per operation, derandomized (the same cases every run), no
Hypothesis deadline (a shared CI box is slow; the load benchmark measures latency instead). The test runs
inside one database transaction that never commits, so the jobs that fuzzed POSTs create (training,
audits, datasheets, PII scans) are enqueued on commit and therefore never sent: no training runs, and
every operation is still exercised with its validation and its writes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.factories import make_user, upload_hiring

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 8


def _schema_dict() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_survives_schemathesis_without_server_errors_or_schema_violations(settings_):
    import schemathesis
    from rest_framework.authtoken.models import Token
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

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

        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=headers)
            case.validate_response(response, headers=headers, checks=[
                not_a_server_error, response_schema_conformance, content_type_conformance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failing operation
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
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
