"""The datasets, dataset versions and records lists: pages, filters, ordering both ways, 400 on bad filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.roles import ML_ENGINEER
from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion
from tests.factories import make_user, upload_hiring
from tests.governance.api_lists import (assert_orders, assert_paginates, assert_refuses, ids, instant, listed)

pytestmark = pytest.mark.django_db

DATASETS, VERSIONS = "/api/datasets/", "/api/dataset-versions/"


@pytest.fixture
def data(api_client, engineer):
    """Three datasets of two owners created a day apart; "beta" has a second, smaller version."""
    other = make_user(ML_ENGINEER, username="olga")
    now = timezone.now()
    alpha = upload_hiring(engineer, n_rows=30, name="alpha")
    beta = upload_hiring(other, n_rows=40, name="beta", lawful_basis="consent", purposes="Hiring",
                         special_categories=True, description="Applicants of the pilot")
    gamma = upload_hiring(engineer, n_rows=50, name="gamma")
    beta2 = upload_hiring(other, n_rows=20, seed=3, dataset=beta.dataset, note="fewer rows")
    for days, version in ((3, alpha), (2, beta), (1, gamma), (0, beta2)):
        DatasetVersion.objects.filter(pk=version.pk).update(created_at=now - timedelta(days=days))
        if version is not beta2:
            Dataset.objects.filter(pk=version.dataset_id).update(created_at=now - timedelta(days=days))
    api_client.force_authenticate(engineer)
    return {"now": now, "alpha": alpha, "beta": beta, "gamma": gamma, "beta2": beta2}


def _names(client, **params):
    return ids(client, DATASETS, "name", **params)


def test_the_datasets_list_pages(api_client, data):
    assert_paginates(api_client, DATASETS)


def test_each_dataset_filter_narrows_the_list(api_client, data):
    now = data["now"]
    assert _names(api_client) == ["alpha", "beta", "gamma"]
    assert _names(api_client, q="PILOT") == ["beta"]  # the description, any case
    assert _names(api_client, q="olg") == ["beta"]  # the owner
    assert _names(api_client, owner="olga") == ["beta"]
    assert _names(api_client, lawful_basis="consent") == ["beta"]
    assert _names(api_client, special_categories="true") == ["beta"]
    assert _names(api_client, special_categories="false") == ["alpha", "gamma"]
    assert _names(api_client, created_after=instant(now - timedelta(days=2, hours=1))) == ["beta", "gamma"]
    assert _names(api_client, created_before=instant(now - timedelta(days=2, hours=1))) == ["alpha"]
    assert _names(api_client, created_after=(now - timedelta(days=3)).date().isoformat(),
                  created_before=instant(now - timedelta(hours=12))) == ["alpha", "beta", "gamma"]


def test_the_datasets_list_orders_both_ways(api_client, data):
    assert_orders(api_client, DATASETS, "name")
    assert_orders(api_client, DATASETS, "created_at")
    assert_orders(api_client, DATASETS, "id")
    assert _names(api_client, ordering="-latest_version") == ["beta", "gamma", "alpha"]  # 2, then ties by -id


@pytest.mark.parametrize("url", [DATASETS, VERSIONS])
def test_bad_dataset_and_version_filters_are_400_naming_the_field(api_client, data, url):
    assert_refuses(api_client, url, ordering="owner", created_after="yesterday", created_before="2026-13-01",
                   page_size="0", q="a\x00b")
    if url == DATASETS:
        assert_refuses(api_client, url, lawful_basis="whim", special_categories="perhaps", owner="x" * 151)
    else:
        assert_refuses(api_client, url, dataset="abc", file_format="xlsx", sha256="not-a-digest")


def test_the_versions_list_pages_filters_and_orders(api_client, data):
    beta, beta2 = data["beta"], data["beta2"]
    assert_paginates(api_client, VERSIONS)
    assert ids(api_client, VERSIONS) == [beta2.pk, data["gamma"].pk, beta.pk, data["alpha"].pk]  # newest first
    assert ids(api_client, VERSIONS, dataset=beta.dataset_id) == [beta2.pk, beta.pk]
    assert ids(api_client, VERSIONS, dataset=10**12) == []
    assert ids(api_client, VERSIONS, sha256=beta2.sha256) == [beta2.pk]
    assert ids(api_client, VERSIONS, q="fewer") == [beta2.pk]  # the note
    assert ids(api_client, VERSIONS, q="gam") == [data["gamma"].pk]  # the dataset's name
    assert ids(api_client, VERSIONS, file_format="csv", created_after=instant(data["now"] - timedelta(hours=1))) \
        == [beta2.pk]
    assert ids(api_client, VERSIONS, created_before=instant(data["now"] - timedelta(days=2, hours=1))) \
        == [data["alpha"].pk]
    assert_orders(api_client, VERSIONS, "row_count")
    assert_orders(api_client, VERSIONS, "created_at")
    assert_orders(api_client, VERSIONS, "dataset", value=lambda row: row["dataset_name"])
    assert ids(api_client, VERSIONS, "version", ordering="-version")[0] == 2


def test_the_records_list_pages_filters_and_orders(api_client, data):
    version = data["alpha"]
    url = f"{VERSIONS}{version.pk}/records/"
    assert_paginates(api_client, url)
    assert listed(api_client, url)["count"] == 30
    first = DatasetRecord.objects.get(version=version, row_index=0)
    # A subject's records: the id in the POST body of search/, never in the URL (a GET with it is a 400).
    found = api_client.post(f"{url}search/", {"subject_id": first.subject_id}, format="json")
    assert found.status_code == 200 and [r["row_index"] for r in found.json()["results"]] == [0]
    refused = api_client.get(url, {"subject_id": first.subject_id})
    assert refused.status_code == 400 and "search/" in refused.json()["subject_id"][0]
    assert api_client.post(f"{url}search/", {"subject_id": "s" * 201}, format="json").status_code == 400
    for body in ("true", "[]", '"S1"'):  # JSON, but not an object of filters: a 400, never a 500
        answer = api_client.generic("POST", f"{url}search/", body, content_type="application/json")
        assert answer.status_code == 400 and "non_field_errors" in answer.json(), answer.content
    labels = ids(api_client, url, "label", label="yes", page_size=100)
    assert labels and set(labels) == {"yes"}
    assert len(labels) == DatasetRecord.objects.filter(version=version, label="yes").count()
    word = first.text.split()[-1]
    assert 0 in ids(api_client, url, "row_index", q=word.upper(), page_size=100)
    assert_orders(api_client, url, "row_index")
    assert_orders(api_client, url, "label")
    assert ids(api_client, url, "row_index", page_size=3) == [0, 1, 2]  # row order by default
    assert_refuses(api_client, url, ordering="text", label="x" * 101, page_size="many")
