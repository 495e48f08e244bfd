"""What the audit log tells the apps above it (they connect in their apps.py ready(); approvals turns both
into webhook events for outside witnesses). Both are sent after the change they announce has committed.

- `checkpoint_signed(checkpoint=dict)`: a signed checkpoint was stored (webhook `auditlog.checkpoint`, which
  carries the signed head so a witness outside the organisation can hold it to it).
- `verification_failed(problems=list[str], reason=str, actor=str)`: the checkpoint writer refused to sign
  because the chain from the newest valid checkpoint to the head does not verify (webhook
  `auditlog.verification_failed`).
"""

from django.dispatch import Signal

checkpoint_signed = Signal()
verification_failed = Signal()
