"""The API's JSON parser: DRF's, with every way a body can fail to parse a 400.

DRF turns a ValueError while parsing (bad syntax, NaN/Infinity, an integer past Python's digit limit) into a
400 already; a body nested deeper than the parser can recurse raised RecursionError, a 500. Here it is a 400
too (issue 17).
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body nests arrays or objects too deeply.") from exc
