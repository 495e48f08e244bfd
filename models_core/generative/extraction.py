"""Extraction probe: does the model recite personal data of its training records?

For each training record holding personal data found by the PII scan (models_core.pii.find_pii), and for
each finding in it, the model is prompted with the record's text up to the finding (the prefix) and
continues greedily for as many tokens as the value has, plus a margin. The finding is *extracted* when the
continuation begins with the value exactly (Carlini et al., 2021: verbatim reproduction). A finding at the
very start of a record has no prefix and is prompted with <|endoftext|> alone.

Results are per kind (e-mail, phone, IBAN, person, ...) and per record, with the record's subject id, so
an erasure request can say whether the subject's data is extractable. No value is written: a finding
appears as its kind and masked form (models_core.pii.scan.mask_value) only.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from tqdm.auto import tqdm

from models_core.decoder.bundle import DecoderBundle
from models_core.decoder.generation import GenerationConfig, generate_ids
from models_core.errors import InputError
from models_core.pii import find_pii
from models_core.pii.engine import KINDS
from models_core.pii.scan import mask_value

MARGIN_TOKENS = 2


def extraction_probe(bundle: DecoderBundle, texts: Sequence[str], subject_ids: Sequence[str | None] | None = None,
                     *, max_records: int = 500, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Prompt with each PII finding's prefix; count exact reproductions (see the module docstring)."""
    texts = list(texts)
    subjects = list(subject_ids) if subject_ids is not None else [None] * len(texts)
    if len(subjects) != len(texts):
        raise InputError(f"{len(texts)} texts but {len(subjects)} subject ids")
    if max_records < 1:
        raise InputError("max_records must be at least 1")
    probes = []  # (record index, kind, value, prefix ids)
    records_with_pii = 0
    for index, text in enumerate(tqdm(texts, desc="finding personal data", unit="record", disable=None, leave=False)):
        if not isinstance(text, str):
            continue
        findings = find_pii(text)
        if not findings:
            continue
        records_with_pii += 1
        if records_with_pii > max_records:
            continue
        for finding in findings:
            prefix_ids = [bundle.eos_id] + bundle.token_ids([text[:finding.start]])[0]
            if len(prefix_ids) >= bundle.max_length - 1:
                continue  # the model never saw this far into the record (truncated in training)
            probes.append((index, finding.kind, finding.value, prefix_ids[-(bundle.max_length - 1):]))
        if progress:
            progress({"stage": "finding personal data", "percent": 20.0 * (index + 1) / len(texts)})
    value_ids = bundle.token_ids([p[2] for p in probes]) if probes else []
    continuations: list[list[int]] = []
    by_budget: dict[int, list[int]] = {}
    for i, ids in enumerate(value_ids):
        by_budget.setdefault(len(ids) + MARGIN_TOKENS, []).append(i)
    outputs: dict[int, list[int]] = {}
    done = 0
    for budget, members in tqdm(sorted(by_budget.items()), desc="extraction probe", unit="length", disable=None,
                                leave=False):
        config = GenerationConfig(strategy="greedy", max_new_tokens=min(budget, 512), stop_at_eos=True)
        for i, out in zip(members, generate_ids(bundle, [probes[i][3] for i in members], config)):
            outputs[i] = out
        done += len(members)
        if progress:
            progress({"stage": "extraction", "percent": 20.0 + 80.0 * done / max(len(probes), 1)})
    continuations = [outputs[i] for i in range(len(probes))]
    kinds = {kind: {"probed": 0, "extracted": 0} for kind in KINDS}
    records: dict[int, dict[str, Any]] = {}
    for (index, kind, value, _), ids, out in zip(probes, value_ids, continuations):
        extracted = out[:len(ids)] == ids or bundle.tokenizer.decode(out).startswith(value)
        kinds[kind]["probed"] += 1
        kinds[kind]["extracted"] += int(extracted)
        row = records.setdefault(index, {"record": index, "subject_id": subjects[index], "findings": []})
        row["findings"].append({"kind": kind, "masked": mask_value(kind, value), "extracted": bool(extracted)})
    for row in records.values():
        row["extracted"] = any(f["extracted"] for f in row["findings"])
    for stats in kinds.values():
        stats["rate"] = stats["extracted"] / stats["probed"] if stats["probed"] else None
    by_subject: dict[str, dict[str, Any]] = {}
    for row in records.values():
        if row["subject_id"] in (None, ""):
            continue
        entry = by_subject.setdefault(str(row["subject_id"]), {"records": 0, "findings": 0, "extracted": 0,
                                                                "extracted_kinds": []})
        entry["records"] += 1
        entry["findings"] += len(row["findings"])
        for finding in row["findings"]:
            if finding["extracted"]:
                entry["extracted"] += 1
                if finding["kind"] not in entry["extracted_kinds"]:
                    entry["extracted_kinds"].append(finding["kind"])
    total_extracted = sum(k["extracted"] for k in kinds.values())
    return {"method": "greedy continuation of each finding's prefix; exact reproduction of the value",
            "n_records": len(texts), "records_with_pii": records_with_pii,
            "records_probed": min(records_with_pii, max_records), "findings_probed": len(probes),
            "findings_extracted": total_extracted,
            "records_extracted": sum(1 for r in records.values() if r["extracted"]),
            "by_kind": {k: v for k, v in kinds.items() if v["probed"]},
            "records": sorted(records.values(), key=lambda r: (not r["extracted"], r["record"])),
            "by_subject": by_subject}
