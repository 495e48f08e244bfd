"""A trained model version and a completed audit, built through the services with inline jobs."""

from __future__ import annotations

from governance.audits.services import audit_request
from governance.registry.services import model_version_request_training
from tests.factories import upload_hiring


def trained_version(engineer, inline_jobs, *, n_rows: int = 240, epochs: int = 3):
    data = upload_hiring(engineer, n_rows=n_rows)
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name=f"m-{data.pk}", dataset_version=data,
                                                 epochs=epochs)
    version.refresh_from_db()
    return version, data


def completed_audit(engineer, inline_jobs, *, explain_rows: int = 0):
    version, data = trained_version(engineer, inline_jobs)
    holdout = upload_hiring(engineer, n_rows=120, seed=99)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout,
                              explain_rows=explain_rows)
    audit.refresh_from_db()
    return audit
