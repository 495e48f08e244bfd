"""Reads an uploaded dataset file (CSV or JSON Lines) into rows, with errors that name the field at fault."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass

from django.conf import settings

from governance.errors import ValidationFailed

BINARY_POSITIVES = {("0", "1"): "1", ("no", "yes"): "yes", ("false", "true"): "true",
                    ("negative", "positive"): "positive", ("reject", "hire"): "hire"}


@dataclass(frozen=True)
class ColumnMapping:
    text: str
    label: str
    subject: str
    sensitive: tuple[str, ...]

    def required(self) -> list[str]:
        return [self.text, self.label, self.subject, *self.sensitive]


@dataclass(frozen=True)
class ParsedFile:
    sha256: str
    file_format: str
    columns: list[str]
    rows: list[dict]


def detect_format(file_name: str, declared: str | None) -> str:
    if declared:
        return declared
    lower = file_name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def parse_file(raw: bytes, *, file_name: str, file_format: str | None = None) -> ParsedFile:
    if not raw.strip():
        raise ValidationFailed("The file is empty.", field="file")
    fmt = detect_format(file_name, file_format)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_no = raw.count(b"\n", 0, exc.start) + 1
        raise ValidationFailed(f"Line {line_no} is not UTF-8 text (byte {exc.start} of the file).",
                               field="file") from exc
    if "\x00" in text:
        raise ValidationFailed("The file contains NUL bytes; is it a binary file?", field="file")
    _check_line_lengths(text)
    columns, rows = _parse_jsonl(text) if fmt == "jsonl" else _parse_csv(text)
    if not rows:
        raise ValidationFailed("The file has a header but no rows.", field="file")
    return ParsedFile(sha256=hashlib.sha256(raw).hexdigest(), file_format=fmt, columns=columns, rows=rows)


def _parse_csv(text: str) -> tuple[list[str], list[dict]]:
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ValidationFailed("The CSV file has no header row.", field="file")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise ValidationFailed("The CSV header repeats a column name.", field="file")
        rows = []
        for line_no, values in enumerate(reader, start=2):
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise ValidationFailed(
                    f"Line {line_no} has {len(values)} fields; the header has {len(header)}.", field="file")
            rows.append(dict(zip(header, values)))
    except csv.Error as exc:
        raise ValidationFailed(f"The CSV file is malformed: {exc}.", field="file") from exc
    return header, rows


def _check_line_lengths(text: str) -> None:
    """Every line at most DATASET_MAX_LINE_CHARS characters: a row is a text a model reads, not a megabyte."""
    limit = settings.DATASET_MAX_LINE_CHARS
    for line_no, line in enumerate(text.split("\n"), start=1):
        if len(line) > limit:
            raise ValidationFailed(f"Line {line_no} is {len(line)} characters long; at most {limit} are accepted "
                                   "(DATASET_MAX_LINE_CHARS).", field="file")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal[:40]} is too large")
    return value


def _parse_json_line(line: str, line_no: int):
    """One JSON value; every way it can fail (syntax, NaN/Infinity, an integer past Python's digit limit, a
    float that overflows, nesting too deep for the parser) is a 400 that names the line."""
    try:
        return json.loads(line, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"Line {line_no} is not valid JSON: {exc.msg} (column {exc.colno}).",
                               field="file") from exc
    except RecursionError as exc:
        raise ValidationFailed(f"Line {line_no} nests arrays or objects too deeply.", field="file") from exc
    except ValueError as exc:  # NaN/Infinity, huge floats, integers over sys.get_int_max_str_digits()
        reason = str(exc).split(";")[0]
        raise ValidationFailed(f"Line {line_no} holds a number that is not accepted: {reason}.", field="file") from exc


def _parse_jsonl(text: str) -> tuple[list[str], list[dict]]:
    rows, columns = [], {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        obj = _parse_json_line(line, line_no)
        if not isinstance(obj, dict):
            raise ValidationFailed(f"Line {line_no} is not a JSON object.", field="file")
        row = {str(k): "" if v is None else str(v) for k, v in obj.items()}
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return list(columns), rows


def validate_rows(parsed: ParsedFile, mapping: ColumnMapping) -> tuple[list[str], str]:
    """Check the mapping against the rows; return (label names, positive label)."""
    if len(set(mapping.required())) != len(mapping.required()):
        raise ValidationFailed("A column is mapped to more than one role.", field="sensitive_attributes")
    for field, column in (("text_column", mapping.text), ("label_column", mapping.label),
                          ("subject_column", mapping.subject)):
        if column not in parsed.columns:
            raise ValidationFailed(f"Column '{column}' is not in the file (columns: {', '.join(parsed.columns)}).",
                                   field=field)
    for column in mapping.sensitive:
        if column not in parsed.columns:
            raise ValidationFailed(f"Sensitive attribute '{column}' is not a column of the file.",
                                   field="sensitive_attributes")
    for index, row in enumerate(parsed.rows, start=1):
        if not row.get(mapping.text, "").strip():
            raise ValidationFailed(f"Row {index} has an empty text.", field="text_column")
        if not row.get(mapping.subject, "").strip():
            raise ValidationFailed(f"Row {index} has no subject id.", field="subject_column")
        if not row.get(mapping.label, "").strip():
            raise ValidationFailed(f"Row {index} has no label.", field="label_column")
    return label_order({row[mapping.label].strip() for row in parsed.rows})


def label_order(distinct: set[str]) -> tuple[list[str], str]:
    """(label names, positive label) of a label column's distinct values: sorted, and for two labels the
    positive one last (BINARY_POSITIVES, else the second in sort order)."""
    labels = sorted(distinct)
    if len(labels) < 2:
        raise ValidationFailed("The label column needs at least two distinct values.", field="label_column")
    if len(labels) > 50:
        raise ValidationFailed(f"The label column has {len(labels)} distinct values; at most 50 are supported.",
                               field="label_column")
    positive = ""
    if len(labels) == 2:
        positive = BINARY_POSITIVES.get(tuple(sorted(label.lower() for label in labels)), labels[1])
        positive = next(label for label in labels if label.lower() == positive.lower()) \
            if any(label.lower() == positive.lower() for label in labels) else labels[1]
        labels = [label for label in labels if label != positive] + [positive]
    return labels, positive
