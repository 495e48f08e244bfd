"""What the audits app tells the apps above it; they connect their receivers in their apps.py `ready()`.

audits sits below approvals, so it never imports it: an audit completing is announced here, and approvals
(approvals/apps.py) re-judges the version's open deployment requests.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent by audits.services inside the transaction that stores a completed audit's results (after its
# "audit.completed" audit-log entry, before its job completes), with sender=Audit and keyword arguments
# `audit` (the Audit, status complete) and `actor` (the user who requested it, or None). Receivers run in
# that transaction: an error in one rolls the completion back, as if the audit had not completed.
audit_completed = Signal()
