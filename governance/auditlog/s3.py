"""Write-once S3 storage for signed audit-log checkpoints (django-storages, boto3), used when
AUDIT_CHECKPOINT_S3_BUCKET is set (settings/base.py).

The bucket must be created with Object Lock enabled (it cannot be switched on later); every checkpoint is
PUT with its own retention (`ObjectLockMode`, `ObjectLockRetainUntilDate` = now + retention_days), so in
COMPLIANCE mode nobody, the bucket's owner and the AWS root account included, can delete or overwrite it
before that date. `file_overwrite` is off: a name that exists gets a new one instead of a new version.
MinIO (`minio server --console-address :9001 /data`, `mc mb --with-lock local/governance-audit`) speaks
the same API for local use: set AUDIT_CHECKPOINT_S3_ENDPOINT_URL=http://127.0.0.1:9000.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from storages.backends.s3 import S3Storage


class WriteOnceS3Storage(S3Storage):
    def __init__(self, *, retention_days: int = 3650, lock_mode: str = "COMPLIANCE", **options):
        if lock_mode not in ("COMPLIANCE", "GOVERNANCE"):
            raise ValueError("lock_mode must be COMPLIANCE or GOVERNANCE")
        self.retention_days, self.lock_mode = retention_days, lock_mode
        super().__init__(**{"file_overwrite": False, "default_acl": None, **options})

    def get_object_parameters(self, name: str) -> dict:
        return {**super().get_object_parameters(name), "ObjectLockMode": self.lock_mode,
                "ObjectLockRetainUntilDate": timezone.now() + timedelta(days=self.retention_days),
                "ContentType": "application/json"}
