"""Reads of the compliance domain: the audit log, its verification, the record of processing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from governance.compliance.chain import entry_body, entry_hash
from governance.compliance.models import GENESIS_HASH, AuditLogEntry, ChainHead, OrganisationProfile


def audit_log_list() -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.all().order_by("-seq")


def audit_log_head() -> dict:
    head = ChainHead.objects.filter(id=1).first()
    return {"seq": head.seq if head else 0, "hash": head.hash if head else GENESIS_HASH}


def organisation_profile() -> OrganisationProfile:
    return OrganisationProfile.objects.filter(id=1).first() or OrganisationProfile(id=1)


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)


def audit_log_verify() -> Verdict:
    """Recompute every entry's hash and link; name each entry that was edited, removed or reordered."""
    problems: list[str] = []
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    for entry in AuditLogEntry.objects.order_by("seq").iterator(chunk_size=2000):
        checked += 1
        if entry.seq != expected_seq:
            problems.append(f"entry #{entry.seq}: expected sequence number {expected_seq} (an entry is missing "
                            f"or was inserted)")
        if entry.prev_hash != prev_hash:
            problems.append(f"entry #{entry.seq}: its previous-hash does not match entry #{entry.seq - 1} "
                            f"(deleted, inserted or reordered entries)")
        body = entry_body(seq=entry.seq, created_at=entry.created_at.isoformat(), actor=entry.actor_username,
                          action=entry.action, object_type=entry.object_type, object_id=entry.object_id,
                          payload=entry.payload)
        if entry_hash(entry.prev_hash, body) != entry.hash:
            problems.append(f"entry #{entry.seq}: content does not match its hash (edited)")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    head = audit_log_head()
    if head["seq"] != expected_seq - 1 or head["hash"] != prev_hash:
        problems.append(f"the chain ends at #{expected_seq - 1} but the recorded head is #{head['seq']} "
                        f"(entries were removed from the end)")
    return Verdict(ok=not problems, checked=checked, head_seq=head["seq"], head_hash=head["hash"],
                   problems=problems)
