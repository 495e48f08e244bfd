"""Reading a dataset file from disk row by row (CSV or JSON Lines), never whole: the SHA-256 and the bytes read
are counted as it goes, every row is checked against the column mapping as it passes, and each error names
its line and field as `parsing.parse_file` does for a file held in memory.

    reader = StreamedRows(path, file_format, mapping)
    for record in reader:          # {"subject_id", "text", "label", "attributes", "weight"}
        ...
    reader.sha256, reader.rows, reader.label_counts, reader.bytes_read
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from pathlib import Path
from typing import Iterator

from django.conf import settings

from governance.datasets.parsing import ColumnMapping, _parse_json_line
from governance.errors import ValidationFailed

MAX_LABELS = 50


class _HashingReader(io.RawIOBase):
    """A raw binary reader over a file that updates a SHA-256 and a byte count with everything read."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self.digest = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer)
        if n:
            self.digest.update(memoryview(buffer)[:n])
            self.count += n
        return n or 0

    def close(self) -> None:
        self._file.close()
        super().close()


class StreamedRows:
    def __init__(self, path: Path, file_format: str, mapping: ColumnMapping) -> None:
        self.path, self.file_format, self.mapping = Path(path), file_format, mapping
        self.rows = 0
        self.label_counts: Counter[str] = Counter()
        self._raw = _HashingReader(self.path)

    @property
    def sha256(self) -> str:
        return self._raw.digest.hexdigest()

    @property
    def bytes_read(self) -> int:
        return self._raw.count

    def __iter__(self) -> Iterator[dict]:
        text = io.TextIOWrapper(io.BufferedReader(self._raw, 1 << 20), encoding="utf-8-sig", newline="")
        try:
            yield from (self._csv(text) if self.file_format == "csv" else self._jsonl(text))
        except UnicodeDecodeError as exc:
            raise ValidationFailed(f"The file is not UTF-8 text near byte {self.bytes_read} (row {self.rows + 1}).",
                                   field="file") from exc
        finally:
            text.close()
        if self.rows == 0:
            raise ValidationFailed("The file has no rows.", field="file")
        if len(self.label_counts) < 2:
            raise ValidationFailed("The label column needs at least two distinct values.", field="label_column")

    def _record(self, row: dict, line_no: int) -> dict:
        m = self.mapping
        text, subject, label = row.get(m.text) or "", (row.get(m.subject) or "").strip(), (row.get(m.label) or "").strip()
        if "\x00" in text:
            raise ValidationFailed(f"Line {line_no} contains NUL bytes; is it a binary file?", field="file")
        if not text.strip():
            raise ValidationFailed(f"Row {self.rows + 1} (line {line_no}) has an empty text.", field="text_column")
        if not subject:
            raise ValidationFailed(f"Row {self.rows + 1} (line {line_no}) has no subject id.", field="subject_column")
        if not label:
            raise ValidationFailed(f"Row {self.rows + 1} (line {line_no}) has no label.", field="label_column")
        if label not in self.label_counts and len(self.label_counts) >= MAX_LABELS:
            raise ValidationFailed(f"The label column has more than {MAX_LABELS} distinct values.", field="label_column")
        self.label_counts[label] += 1
        self.rows += 1
        return {"subject_id": subject, "text": text, "label": label,
                "attributes": {s: (row.get(s) or "").strip() for s in m.sensitive}, "weight": 1.0}

    def _check_columns(self, columns: list[str]) -> None:
        m = self.mapping
        if len(set(m.required())) != len(m.required()):
            raise ValidationFailed("A column is mapped to more than one role.", field="sensitive_attributes")
        for field, column in (("text_column", m.text), ("label_column", m.label), ("subject_column", m.subject)):
            if column not in columns:
                raise ValidationFailed(f"Column '{column}' is not in the file (columns: {', '.join(columns)}).",
                                       field=field)
        for column in m.sensitive:
            if column not in columns:
                raise ValidationFailed(f"Sensitive attribute '{column}' is not a column of the file.",
                                       field="sensitive_attributes")

    def _csv(self, text) -> Iterator[dict]:
        limit = settings.DATASET_MAX_LINE_CHARS
        previous = csv.field_size_limit(limit)
        try:
            reader = csv.reader(text)
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise ValidationFailed("The CSV file has no header row.", field="file")
            header = [h.strip() for h in header]
            if len(set(header)) != len(header):
                raise ValidationFailed("The CSV header repeats a column name.", field="file")
            self._check_columns(header)
            for values in reader:
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise ValidationFailed(f"Line {reader.line_num} has {len(values)} fields; the header has "
                                           f"{len(header)}.", field="file")
                yield self._record(dict(zip(header, values)), reader.line_num)
        except csv.Error as exc:
            raise ValidationFailed(f"The CSV file is malformed near row {self.rows + 1}: {exc} (fields are limited "
                                   f"to {limit} characters, DATASET_MAX_LINE_CHARS).", field="file") from exc
        finally:
            csv.field_size_limit(previous)

    def _jsonl(self, text) -> Iterator[dict]:
        limit = settings.DATASET_MAX_LINE_CHARS
        checked = False
        for line_no, line in enumerate(text, start=1):
            if len(line) > limit + 2:
                raise ValidationFailed(f"Line {line_no} is {len(line)} characters long; at most {limit} are accepted "
                                       "(DATASET_MAX_LINE_CHARS).", field="file")
            if not line.strip():
                continue
            obj = _parse_json_line(line, line_no)
            if not isinstance(obj, dict):
                raise ValidationFailed(f"Line {line_no} is not a JSON object.", field="file")
            row = {str(k): "" if v is None else str(v) for k, v in obj.items()}
            if not checked:
                self._check_columns(list(row))
                checked = True
            yield self._record(row, line_no)
