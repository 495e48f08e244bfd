"""What the datasets app tells the apps above it; they connect their receivers in their apps.py `ready()`.

approvals (above datasets) re-judges the deployment requests of model versions trained on a dataset whose
personal-data metadata or its confirmation changed: the DPIA and lawful-basis gates read them.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction of datasets.services.dataset_metadata_update (values changed, confirmation
# cleared) and dataset_metadata_confirm, with sender=Dataset and keyword arguments `dataset` and `actor`.
dataset_metadata_changed = Signal()
