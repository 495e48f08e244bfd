"""The one way to build a logged export: wrap the content in the provenance envelope, render it, log it.

Every export (GDPR and AI Act records, audit reports) carries its schema, time, author, content SHA-256, the
audit-log head and a fresh signed checkpoint (docs/compliance-exports.md, "Every export"), and appends one
audit-log entry with the content hash, the rendered file's SHA-256 and that head, so a file handed to a
regulator can be matched to the entry that produced it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from governance.auditlog.chain import canonical_json
from governance.auditlog.selectors import audit_log_head
from governance.auditlog.services import audit_log_append, audit_log_checkpoint_write
from governance.errors import ValidationFailed
from governance.pdf import build_pdf, provenance_rows

FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
           "html": "text/html; charset=utf-8"}
# OWASP CSV injection: a cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFile:
    body: bytes
    content_type: str
    filename: str
    document: dict

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def envelope(*, schema: tuple[str, str], actor, content: dict) -> dict:
    """Wrap export content with the provenance every export must carry, and a signed checkpoint of the audit
    log's head at that moment (so a later truncation shows). Call it inside the export's transaction."""
    checkpoint = audit_log_checkpoint_write(actor, reason="export")
    return {
        "schema": {"name": schema[0], "version": schema[1]},
        "generated_at": timezone.now().isoformat(),
        "generated_by": getattr(actor, "username", str(actor)),
        "content_sha256": hashlib.sha256(canonical_json(content).encode()).hexdigest(),
        "audit_log_head": audit_log_head(),
        "audit_log_checkpoint": checkpoint,
        "content": content,
    }


def csv_cell(value) -> str:
    """A CSV cell as text, prefixed with ' when a spreadsheet would read it as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, tuple)):
        text = "; ".join(str(v) for v in value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_bytes(document: dict, header: list[str], rows: list[list]) -> bytes:
    """Provenance lines first (one key and value per line), a blank line, then the table."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for key, value in provenance_rows(document):
        writer.writerow([csv_cell(f"# {key}"), csv_cell(value)])
    writer.writerow([])
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return buffer.getvalue().encode("utf-8")


def export_render(*, actor, schema: tuple[str, str], content: dict, fmt: str, filename: str, title: str = "",
                  pdf_blocks: Callable[[dict], list[tuple]] | None = None,
                  csv_table: Callable[[dict], tuple[list[str], list[list]]] | None = None,
                  html: Callable[[dict], str] | None = None, action: str = "export.generated",
                  obj: Model | None = None, payload: dict | None = None) -> ExportFile:
    """Wrap `content` in the envelope, render it as `fmt` (json always; csv, pdf and html where a renderer
    is given: `csv_table(content)`, `pdf_blocks(content)`, `html(document)`) and log the export.

    The entry is `action` on `obj` (default: "export.generated" on the export's schema name) with the schema,
    format, content hash, file hash and the log head, plus `payload`."""
    renderers = {"json": True, "csv": csv_table, "pdf": pdf_blocks, "html": html}
    if renderers.get(fmt) is None:
        raise ValidationFailed(f"This export is not available as '{fmt}'.", field="as")
    with transaction.atomic():
        document = envelope(schema=schema, actor=actor, content=content)
        if fmt == "json":
            body = json.dumps(document, indent=2, ensure_ascii=False).encode()
        elif fmt == "csv":
            body = csv_bytes(document, *csv_table(content))
        elif fmt == "html":
            body = html(document).encode()
        else:
            body = build_pdf(title=title, document=document, blocks=pdf_blocks(content))
        target = {"obj": obj} if obj is not None else {"object_type": "export", "object_id": schema[0]}
        audit_log_append(actor=actor, action=action, **target,
                         payload={"schema": document["schema"], "format": fmt,
                                  "content_sha256": document["content_sha256"],
                                  "file_sha256": hashlib.sha256(body).hexdigest(),
                                  "audit_log_head": document["audit_log_head"], **(payload or {})})
    return ExportFile(body=body, content_type=FORMATS[fmt], filename=f"{filename}.{fmt}", document=document)
