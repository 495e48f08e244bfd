"""Conventions of the API's list endpoints: pages (?page=, ?page_size=), filters validated by an input
serializer per list, and ?ordering= over a whitelist.

A list's filters are a plain serializer (e.g. governance.audits.api.AuditFilterInput) whose fields are
documented as the operation's query parameters (`extend_schema(parameters=[...])`); `list_filters`
validates the query string with it, so a bad value is a 400 naming its field (never ignored, never a 500),
and hands the set values to the app's selector, which narrows and orders (governance/list_filters.py).
"""

from __future__ import annotations

import functools
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

MAX_ID = 2**63 - 1
MAX_PAGE_SIZE = 500


class ListPagination(PageNumberPagination):
    """Page-number pages of PAGE_SIZE rows; ?page_size= asks for 1 to MAX_PAGE_SIZE (anything else is a 400)."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        try:
            return serializers.IntegerField(min_value=1, max_value=self.max_page_size).run_validation(raw)
        except ValidationError as exc:
            raise ValidationError({self.page_size_query_param: exc.detail}) from exc

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = f"Rows per page, 1 to {self.max_page_size} (default {self.page_size})."
        return parameters


def list_filters(input_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """The filters of `request`'s query string that are set, validated by `input_class` (a 400 otherwise).
    An empty value (`?status=`, as a form leaves it) is no filter; a repeated one counts once, the last."""
    given = {name: value for name, value in request.query_params.items() if value != ""}
    if not given:  # most requests: the whole list, whose (empty) filters are the same every time
        return dict(_unfiltered(input_class))
    data = input_class(data=given)
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items() if value is not None and value != ""}


def body_filters(input_class: type[serializers.Serializer], request) -> dict[str, Any]:
    """The filters of a POST body, validated by `input_class`: a search whose filters are personal data (a
    data subject's identifier) sends them there, never in a URL, which access logs and proxies keep."""
    body = request.data
    if not hasattr(body, "items"):  # `true`, `[]`, `"x"`: JSON, but not the object of filters the schema asks
        raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object of filters."]})
    given = {name: (body.get(name) if hasattr(body, "getlist") else value)
             for name, value in body.items() if value not in ("", None)}
    data = input_class(data=given)
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items() if value is not None and value != ""}


def refuse_in_query(request, *names: str, search_url: str) -> None:
    """400 at the field when a personal-data filter arrives in the query string (already logged by then; the
    answer teaches the client to POST it to `search_url` instead)."""
    for name in names:
        if request.query_params.get(name, "") != "":
            raise ValidationError({name: [f"A {name} is personal data and is not accepted in a URL (access logs "
                                          f"keep URLs): POST it in the body to {search_url}."]})


@functools.cache
def _unfiltered(input_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The filters of an empty query string, validated once per list (building a serializer's fields is
    most of a small list's cost). Filter fields have no callable defaults, so the result never changes."""
    data = input_class(data={})
    data.is_valid(raise_exception=True)
    return {name: value for name, value in data.validated_data.items() if value is not None and value != ""}


def ordering_field(*names: str, default: str) -> serializers.ChoiceField:
    """?ordering=: one of `names`, or "-" and one of them for descending; ties are broken by id."""
    return serializers.ChoiceField(
        choices=[key for name in names for key in (name, f"-{name}")], required=False,
        help_text=f"Sort by one of {', '.join(names)}; prefix '-' for descending. Default: {default}. "
                  "Rows that tie are ordered by id in the same direction.")


def id_filter(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text=help_text)


def search_filter(help_text: str) -> serializers.CharField:
    return serializers.CharField(max_length=200, required=False, allow_blank=True, help_text=help_text)


def bool_filter(help_text: str) -> serializers.BooleanField:
    return serializers.BooleanField(required=False, allow_null=True, default=None, help_text=help_text)


def instant_filter(help_text: str) -> serializers.DateTimeField:
    return serializers.DateTimeField(required=False, help_text=f"{help_text} (ISO 8601; a bare date is its "
                                                               "midnight UTC).")


class CreatedRangeInput(serializers.Serializer):
    """created_after (inclusive) and created_before (exclusive), shared by lists of rows with a created_at."""

    created_after = instant_filter("Created at or after this instant")
    created_before = instant_filter("Created before this instant")
