"""Several OS processes append to the audit log at once: the chain never forks and has no gaps."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify

ROOT = Path(__file__).resolve().parents[3]
APPENDER = """
import os, sys, time
import django
django.setup()
from django.db import transaction
from governance.auditlog.services import audit_log_append
from governance.compliance.models import OrganisationProfile
worker, count, start = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
for i in range(count):
    with transaction.atomic():  # an append in the same transaction as the change it records
        OrganisationProfile.objects.update_or_create(id=1, defaults={"controller_name": f"w{worker}-{i}"})
        audit_log_append(actor=None, action="concurrency.append", object_type="worker", object_id=str(worker),
                         payload={"worker": worker, "i": i})
print("done", worker)
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_appenders_in_separate_processes_never_fork_the_chain():
    processes, per_process = 5, 30
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "governance.settings.test",
           "PYTHONPATH": str(ROOT)}
    start = time.time() + 6  # every process is up (Django imported) before the first append
    children = [subprocess.Popen([sys.executable, "-c", APPENDER, str(w), str(per_process), str(start)], cwd=ROOT,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for w in range(processes)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-3000:]
    entries = list(AuditLogEntry.objects.filter(action="concurrency.append").order_by("seq"))
    assert len(entries) == processes * per_process
    seqs = list(AuditLogEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    # Interleaved, not one process after another: the processes really raced.
    owners = [e.payload["worker"] for e in entries]
    assert sum(1 for a, b in zip(owners, owners[1:]) if a != b) > processes
    verdict = audit_log_verify()
    assert verdict.ok, verdict.problems
