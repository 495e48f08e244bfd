"""Scan one column of a CSV file for personal data and print the report as JSON (for CI and operators).

    python -m models_core.pii FILE.csv --column COL [--examples]

Prints {"file", "column", "n_texts", "rows_affected", "rows_affected_share", "findings_total",
"by_kind": {kind: {"count": n, "rows": n, "distinct": n}}} (kinds include person and location; masked
examples only with --examples, never a raw value). Exit status 0 when the scan ran (whatever it found),
2 on a bad argument or file (message on stderr); `--fail-on-findings` makes any finding exit 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from models_core.pii.scan import scan_texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models_core.pii", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a CSV file with a header row")
    parser.add_argument("--column", required=True, help="the column holding the free text")
    parser.add_argument("--examples", action="store_true", help="include up to three masked examples per kind")
    parser.add_argument("--fail-on-findings", action="store_true", help="exit 1 when anything is found")
    args = parser.parse_args(argv)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(args.file, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or args.column not in reader.fieldnames:
                print(f"error: column {args.column!r} is not in {args.file} (columns: "
                      f"{', '.join(reader.fieldnames or [])})", file=sys.stderr)
                return 2
            texts = [row.get(args.column) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    report = scan_texts(texts)
    by_kind = {kind: {key: entry[key] for key in ("count", "rows", "distinct", *(("examples",) if args.examples
                                                                                else ()))}
               for kind, entry in report["by_kind"].items()}
    print(json.dumps({"file": args.file, "column": args.column, "n_texts": report["n_texts"],
                      "rows_affected": report["rows_affected"],
                      "rows_affected_share": round(report["rows_affected_share"], 6),
                      "findings_total": report["findings_total"], "by_kind": by_kind}, indent=2))
    return 1 if args.fail_on_findings and report["findings_total"] else 0


if __name__ == "__main__":
    sys.exit(main())
