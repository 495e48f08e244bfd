"""The personal-data metadata the deployment gates read counts once a compliance officer confirmed it: a
confirm action (page and API, logged), cleared by an edit, bound to the values it confirmed."""

from __future__ import annotations

import pytest

from governance.auditlog.models import AuditLogEntry
from governance.datasets.selectors import dataset_metadata_confirmation
from governance.datasets.services import dataset_metadata_update
from governance.roles import COMPLIANCE_OFFICER
from tests.factories import make_user, upload_hiring
from tests.governance.approvals.evidence import PERSONAL

pytestmark = pytest.mark.django_db


def test_an_officer_confirms_on_the_dataset_page_and_an_edit_clears_it(client, engineer):
    dataset = upload_hiring(engineer, n_rows=40, **PERSONAL).dataset
    officer = make_user(COMPLIANCE_OFFICER)
    client.force_login(engineer)
    page = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert "not confirmed" in page and "Confirm the personal-data metadata" not in page  # not the engineer's button
    assert client.post(f"/datasets/{dataset.pk}/confirm-metadata/").status_code == 403
    client.force_login(officer)
    assert "Confirm the personal-data metadata" in client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert client.post(f"/datasets/{dataset.pk}/confirm-metadata/").status_code == 302
    page = client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert f"confirmed</span> by {officer.username}" in page
    dataset.refresh_from_db()
    assert dataset_metadata_confirmation(dataset=dataset)["by"] == officer.username
    again = client.post(f"/datasets/{dataset.pk}/confirm-metadata/", follow=True)
    assert b"already confirmed" in again.content
    logged = AuditLogEntry.objects.get(action="dataset.metadata_confirmed")
    assert logged.payload["dpia_reference"] == PERSONAL["dpia_reference"] and logged.payload["sha256"]

    dataset_metadata_update(actor=officer, dataset=dataset, purposes="Hiring")  # unchanged value: kept
    dataset.refresh_from_db()
    assert dataset_metadata_confirmation(dataset=dataset) is not None
    dataset_metadata_update(actor=officer, dataset=dataset, purposes="Hiring and promotion")
    dataset.refresh_from_db()
    assert dataset_metadata_confirmation(dataset=dataset) is None and dataset.metadata_confirmed_by is None
    assert AuditLogEntry.objects.filter(action="dataset.metadata_updated").order_by("seq").last().payload["confirmation_cleared"]
