"""What the registry asks of the apps above it; they connect their receivers in their apps.py `ready()`.

The registry sits below approvals and never imports it. Before a rollback serves a version again, it asks
whether the deployment request that version was approved on still stands on its evidence: approvals
(approvals/receivers.py) re-judges it and answers.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent by registry.services.deployment_rollback outside its transaction, with sender=Deployment and keyword
# arguments `request_id` (the deployment request the version was approved on) and `actor`. Each receiver
# returns "" when that request is approved on evidence that still holds, otherwise why not (it may void the
# request in its own committed transaction first). No receiver answering counts as a refusal.
deployment_authorise = Signal()
