"""Filtering and ordering of lists, shared by the selectors of every app; and the search box and filters of
the HTML list pages (?q=, ?status=, ?model=, ?dataset=), read from a query string.

The pages clean their values leniently here (a status outside the list's choices, or an id that is not a
number, is ignored rather than an error); the API validates the same names strictly with an input
serializer (governance/api_lists.py) and answers a bad value with a 400. Either way the selectors receive a
plain dict of typed values and narrow, search and order with `narrowed`, `searched` and `ordered`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import urlencode

from django.db.models import F, Q, QuerySet

MAX_QUERY = 200


@dataclass(frozen=True)
class ListFilters:
    q: str = ""
    status: str = ""
    model: int | None = None
    dataset: int | None = None
    project: int | None = None

    @classmethod
    def from_query(cls, params, *, statuses=()) -> "ListFilters":
        status = params.get("status", "")
        # NUL cannot travel to PostgreSQL in a string literal: drop it rather than fail with a 500
        return cls(q=params.get("q", "").replace("\x00", "").strip()[:MAX_QUERY],
                   status=status if status in set(statuses) else "",
                   model=_id(params.get("model")), dataset=_id(params.get("dataset")),
                   project=_id(params.get("project")))

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.model or self.dataset or self.project)

    @property
    def number(self) -> int | None:
        """The record number the search names ("42" or "#42"), if it names one."""
        return _id(self.q.lstrip("#"))

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, by name: what a selector's `filters` takes."""
        return {k: v for k, v in (("q", self.q), ("status", self.status), ("model", self.model),
                                  ("dataset", self.dataset), ("project", self.project)) if v}

    def querystring(self) -> str:
        """The filters as a query string, for the pagination links."""
        pairs = [(k, v) for k, v in (("q", self.q), ("status", self.status), ("model", self.model),
                                     ("dataset", self.dataset), ("project", self.project)) if v]
        return urlencode(pairs)


def _id(value) -> int | None:
    # isascii: "²" is a digit to str.isdigit() but not to int()
    text = str(value) if value else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


def searched(qs: QuerySet, q: str, *, fields: Sequence[str], by_number: bool = False) -> QuerySet:
    """`qs` narrowed to the rows where `q` matches one of the lookups in `fields` (e.g. "name__icontains"),
    or, when `by_number`, whose primary key is the number `q` names ("42" or "#42"). No `q`, no narrowing."""
    if not q:
        return qs
    match = Q()
    for lookup in fields:
        match |= Q(**{lookup: q})
    number = _id(q.lstrip("#"))
    if by_number and number:
        match |= Q(pk=number)
    return qs.filter(match)


def narrowed(qs: QuerySet, filters: Mapping[str, Any], lookups: Mapping[str, str]) -> QuerySet:
    """`qs` filtered by each value of `filters` that `lookups` names (filter name -> ORM lookup, e.g.
    "created_after" -> "created_at__gte"). None and "" are no filter; False is one."""
    return qs.filter(**{lookups[name]: value for name, value in filters.items()
                        if name in lookups and value is not None and value != ""})


def ordered(qs: QuerySet, ordering: str, *, fields: Mapping[str, str], default: str) -> QuerySet:
    """`qs` ordered by `ordering` ("name" or "-name" for descending, a key of `fields`, which maps it to a
    lookup) or else by `default`, then by primary key in the same direction: rows that tie keep one order,
    so pages neither repeat nor skip a row. Empty values sort last in both directions."""
    key = ordering or default
    descending = key.startswith("-")
    expression = F(fields[key.removeprefix("-")])
    if descending:
        return qs.order_by(expression.desc(nulls_last=True), "-pk")
    return qs.order_by(expression.asc(nulls_last=True), "pk")
