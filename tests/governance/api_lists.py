"""Checks shared by the list-endpoint tests (tests/governance/<app>/test_api_lists.py): pages, filters,
ordering both ways and 400s for bad filter values (the conventions of governance/api_lists.py)."""

from __future__ import annotations

from datetime import datetime


def listed(client, url: str, **params) -> dict:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def ids(client, url: str, key: str = "id", **params) -> list:
    return [row[key] for row in listed(client, url, **params)["results"]]


def assert_paginates(client, url: str, key: str = "id", **params) -> None:
    """Pages of 2 (count, next, previous) hold every row once, in the order of the whole list."""
    whole = ids(client, url, key, page_size=500, **params)
    assert len(whole) >= 3, "needs at least three rows to page"
    first = listed(client, url, page_size=2, **params)
    assert first["count"] == len(whole) and first["next"] and first["previous"] is None
    seen, page = [], first
    while True:
        seen += [row[key] for row in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert seen == whole


def assert_orders(client, url: str, field: str, *, value=None, key: str = "id", **params) -> None:
    """?ordering=field sorts ascending by `value(row)` (default: row[field]) and ?ordering=-field is exactly
    the reverse (ties broken by id both ways)."""
    value = value or (lambda row: _comparable(row[field]))
    up = listed(client, url, ordering=field, page_size=500, **params)["results"]
    down = listed(client, url, ordering=f"-{field}", page_size=500, **params)["results"]
    assert len(up) >= 2
    values = [value(row) for row in up]
    assert values == sorted(values), values
    assert [row[key] for row in down] == [row[key] for row in reversed(up)]


def _comparable(value):
    """Timestamps as datetimes: their text drops zero microseconds, so it does not sort as they do."""
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        return datetime.fromisoformat(value)
    return value


def assert_refuses(client, url: str, **params) -> None:
    """Each bad value is a 400 naming its field."""
    for name, bad in params.items():
        response = client.get(url, {name: bad})
        assert response.status_code == 400, (name, bad, response.status_code, response.content)
        assert name in response.json(), (name, response.json())


def instant(moment: datetime) -> str:
    return moment.isoformat()
