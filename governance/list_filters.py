"""The search box and filters of the list pages (?q=, ?status=, ?model=, ?dataset=), read from a query string.

Values are cleaned here once (a status outside the list's choices, or an id that is not a number, is
ignored rather than an error), so selectors receive plain typed filters and pages keep them across pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

MAX_QUERY = 200


@dataclass(frozen=True)
class ListFilters:
    q: str = ""
    status: str = ""
    model: int | None = None
    dataset: int | None = None

    @classmethod
    def from_query(cls, params, *, statuses=()) -> "ListFilters":
        status = params.get("status", "")
        # NUL cannot travel to PostgreSQL in a string literal: drop it rather than fail with a 500
        return cls(q=params.get("q", "").replace("\x00", "").strip()[:MAX_QUERY],
                   status=status if status in set(statuses) else "",
                   model=_id(params.get("model")), dataset=_id(params.get("dataset")))

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.model or self.dataset)

    @property
    def number(self) -> int | None:
        """The record number the search names ("42" or "#42"), if it names one."""
        return _id(self.q.lstrip("#"))

    def apply(self, qs: QuerySet, *, search: Sequence[str], by_number: bool = False, status: str = "",
              model: str = "", dataset: str = "") -> QuerySet:
        """`qs` narrowed: `q` against each lookup in `search` (and the primary key when `by_number` and the
        search is a number), then status, model and dataset against the lookups named for them."""
        if self.q:
            match = Q()
            for lookup in search:
                match |= Q(**{lookup: self.q})
            if by_number and self.number:
                match |= Q(pk=self.number)
            qs = qs.filter(match)
        for lookup, value in ((status, self.status), (model, self.model), (dataset, self.dataset)):
            if lookup and value:
                qs = qs.filter(**{lookup: value})
        return qs

    def querystring(self) -> str:
        """The filters as a query string, for the pagination links."""
        pairs = [(k, v) for k, v in (("q", self.q), ("status", self.status), ("model", self.model),
                                     ("dataset", self.dataset)) if v]
        return urlencode(pairs)


def _id(value) -> int | None:
    return int(value) if value and str(value).isdigit() and len(str(value)) < 12 else None
