"""The datasheet page, the compare page and the correction buttons, in the browser's HTTP terms."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.datasets.models import DatasetVersion
from governance.datasets.selectors import datasheet_get
from governance.jobs.models import Job, JobStatus
from tests.factories import PASSWORD, hiring_bytes, make_user, upload_hiring

pytestmark = pytest.mark.django_db


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def test_upload_form_computes_the_datasheet_and_its_page_shows_charts_and_tables(client, engineer, inline_jobs):
    _login(client, engineer)
    form = {"name": "web", "file": SimpleUploadedFile("d.csv", hiring_bytes(300)), "text_column": "text",
            "label_column": "hired", "subject_column": "subject_id", "sensitive_attributes": "gender, age_band",
            "lawful_basis": "none"}
    with inline_jobs():
        response = client.post("/datasets/upload/", form)
    assert response.status_code == 302
    version = DatasetVersion.objects.get(dataset__name="web")
    page = client.get(response["Location"]).content.decode()
    assert f'href="/datasets/versions/{version.pk}/datasheet/"' in page and 'data-job-id="' in page

    sheet = datasheet_get(version).data
    html = client.get(f"/datasets/versions/{version.pk}/datasheet/").content.decode()
    assert html.count("<svg") == 3 * 2 + 2  # rate and share per slice, two length histograms
    assert "<title id=" in html and "<desc id=" in html
    female = sheet["slices"]["gender"]["groups"]["female"]["positive_rate"]
    shown = f"{100 * female['estimate']:.1f}% [{100 * female['ci'][0]:.1f}%, {100 * female['ci'][1]:.1f}%]"
    assert shown in html
    assert "she" in html and "Duplicate texts" in html and "Missing values" in html


def test_datasheet_page_while_the_job_runs_shows_the_live_bar(client, engineer):
    version = upload_hiring(engineer, n_rows=40)
    _login(client, make_user())
    response = client.get(f"/datasets/versions/{version.pk}/datasheet/")
    job = Job.objects.get(kind="datasheet", subject_id=version.pk)
    assert response.status_code == 200 and job.status == JobStatus.QUEUED
    assert f'data-job-id="{job.pk}"' in response.content.decode() and "being computed" in response.content.decode()


def test_reweigh_and_resample_buttons_create_derived_versions(client, engineer, inline_jobs):
    source = upload_hiring(engineer, n_rows=200)
    _login(client, engineer)
    page = client.get(f"/datasets/versions/{source.pk}/").content.decode()
    assert f'action="/datasets/versions/{source.pk}/reweigh/"' in page
    with inline_jobs():
        response = client.post(f"/datasets/versions/{source.pk}/reweigh/")
    reweighed = DatasetVersion.objects.get(parent=source)
    assert response.status_code == 302 and response["Location"] == f"/datasets/versions/{reweighed.pk}/"
    html = client.get(f"/datasets/versions/{reweighed.pk}/datasheet/").content.decode()
    assert "weighted" in html and "+0.0 pp" in html
    response = client.post(f"/datasets/versions/{source.pk}/resample/", {"seed": "5"})
    assert DatasetVersion.objects.filter(parent=source, note__contains="seed 5").exists()
    # A weighted version cannot be reweighed again: the error comes back as a message, not a 500.
    response = client.post(f"/datasets/versions/{reweighed.pk}/reweigh/", follow=True)
    assert response.status_code == 200 and "already carries row weights" in response.content.decode()
    response = client.post(f"/datasets/versions/{source.pk}/resample/", {"seed": "-3"}, follow=True)
    assert "greater than or equal to 0" in response.content.decode()


def test_correction_buttons_need_the_engineer_role(client, engineer):
    source = upload_hiring(engineer, n_rows=40)
    reviewer = make_user("reviewer")
    _login(client, reviewer)
    assert 'reweigh/"' not in client.get(f"/datasets/versions/{source.pk}/").content.decode()
    assert client.post(f"/datasets/versions/{source.pk}/reweigh/").status_code == 403
    assert not DatasetVersion.objects.filter(parent=source).exists()


def test_compare_page_shows_drift_and_the_datasheets_side_by_side(client, engineer, inline_jobs):
    with inline_jobs():
        a = upload_hiring(engineer, n_rows=300)
        b = upload_hiring(engineer, n_rows=150, seed=99)
    _login(client, engineer)
    with inline_jobs():
        first = client.get(f"/datasets/compare/?against={a.pk}&version={b.pk}").content.decode()
    assert "The drift is being computed" in first and 'data-job-id="' in first
    html = client.get(f"/datasets/compare/?against={a.pk}&version={b.pk}").content.decode()
    assert "Per-column distribution shift" in html and "Label shift" in html and "being computed" not in html
    assert "Datasheets side by side" in html and html.count("<svg") == 2 * 3
    assert re.search(r"<code>gender</code></td>\s*<td>PSI</td>", html)


def test_compare_page_refuses_bad_picks_with_a_field_error(client, engineer):
    a = upload_hiring(engineer, n_rows=40)
    other = upload_hiring(engineer, n_rows=40)
    DatasetVersion.objects.filter(pk=other.pk).update(sensitive_attributes=["gender"])
    _login(client, engineer)
    prefilled = client.get(f"/datasets/compare/?against={a.pk}")
    assert prefilled.status_code == 200 and f'<option value="{a.pk}" selected>' in prefilled.content.decode()
    same = client.get(f"/datasets/compare/?against={a.pk}&version={a.pk}")
    assert same.status_code == 400 and "Pick two different versions" in same.content.decode()
    differ = client.get(f"/datasets/compare/?against={a.pk}&version={other.pk}")
    assert differ.status_code == 400 and "different columns" in differ.content.decode()
    unknown = client.get(f"/datasets/compare/?against=999999&version={a.pk}")
    assert unknown.status_code == 400 and "Select a valid choice" in unknown.content.decode()


def test_model_version_page_links_to_a_comparison_with_its_training_data(client, engineer, inline_jobs):
    from tests.governance.slice import trained_version

    version, data = trained_version(engineer, inline_jobs, n_rows=120, epochs=1)
    _login(client, engineer)
    html = client.get(f"/models/versions/{version.pk}/").content.decode()
    assert f'href="/datasets/compare/?against={data.pk}"' in html


def test_pages_render_for_versions_without_sensitive_attributes(client, engineer, inline_jobs):
    import json

    from governance.datasets.services import dataset_upload

    def upload(name, n):
        lines = [json.dumps({"subject_id": f"u{i}", "text": f"text {i % 9} here", "label": "ab"[i % 2]})
                 for i in range(n)]
        return dataset_upload(actor=engineer, name=name, raw="\n".join(lines).encode(), file_name="p.jsonl",
                              text_column="text", label_column="label", subject_column="subject_id",
                              sensitive_attributes=[])

    with inline_jobs():
        a, b = upload("plain-a", 50), upload("plain-b", 70)
    _login(client, engineer)
    html = client.get(f"/datasets/versions/{a.pk}/datasheet/").content.decode()
    assert "none declared: all rows form one group" in html and "No sensitive attribute declared." in html
    version_page = client.get(f"/datasets/versions/{a.pk}/").content.decode()
    assert "reweigh/" not in version_page  # nothing to balance
    with inline_jobs():
        client.get(f"/datasets/compare/?against={a.pk}&version={b.pk}")
    response = client.get(f"/datasets/compare/?against={a.pk}&version={b.pk}")
    assert response.status_code == 200 and "<code>(all rows)</code>" not in response.content.decode()
    assert "Per-column distribution shift" in response.content.decode()


def test_a_failed_datasheet_job_is_shown_not_raised(client, engineer, inline_jobs, monkeypatch):
    import models_core.data.datasheet

    def broken(*args, **kwargs):
        raise RuntimeError("bootstrap ran out of memory")

    monkeypatch.setattr(models_core.data.datasheet, "build_datasheet", broken)
    with inline_jobs():
        version = upload_hiring(engineer, n_rows=40)
    job = Job.objects.get(kind="datasheet", subject_id=version.pk)
    assert job.status == JobStatus.FAILED and "out of memory" in job.error
    _login(client, engineer)
    html = client.get(f"/datasets/versions/{version.pk}/datasheet/").content.decode()
    assert "could not be computed: RuntimeError: bootstrap ran out of memory" in html
    assert client.get(f"/datasets/versions/{version.pk}/").status_code == 200
