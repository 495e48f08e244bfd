"""Job state machine on PostgreSQL: attempts, giving up, duplicate deliveries, the stale-job sweep, and
retries of transient errors. The tasks run through Celery's own `apply` (same task classes as a worker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from governance.datasets.models import Datasheet
from governance.jobs import services as jobs
from governance.jobs.models import Job, JobStatus
from tests.factories import upload_hiring

pytestmark = pytest.mark.django_db


def _datasheet_job(engineer, settings):
    settings.JOB_DISPATCH = "celery"  # nothing leaves before commit; the test drives the job itself
    version = upload_hiring(engineer, n_rows=60)
    return Job.objects.get(kind="datasheet", subject_id=version.pk), version


def _task(name):
    import workers.tasks  # noqa: F401  (the periodic tasks; the job kinds' tasks are defined as Django starts)
    from workers.celery import app

    return app.tasks[name]


def test_enqueue_records_the_task_so_the_job_can_be_sent_again(engineer, settings):
    job, _ = _datasheet_job(engineer, settings)
    assert job.task_name == "governance.build_datasheet"


def test_attempts_are_counted_and_a_job_that_used_them_all_is_failed(engineer, settings):
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS,
                                         heartbeat_at=timezone.now() - timedelta(hours=1), delivery="old")
    _task("governance.build_datasheet").apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == settings.JOB_MAX_ATTEMPTS
    assert "Gave up after 3 attempts" in job.error
    assert not Datasheet.objects.filter(version=version).exists()


def test_a_duplicate_message_for_a_job_a_live_worker_holds_is_ignored(engineer, settings):
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(),
                                         delivery="someone-else")
    _task("governance.build_datasheet").apply(args=[job.pk], task_id="another-message")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 1
    assert not Datasheet.objects.filter(version=version).exists()


def test_a_redelivered_message_takes_over_and_counts_a_second_attempt(engineer, settings):
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(),
                                         delivery="the-message")
    _task("governance.build_datasheet").apply(args=[job.pk], task_id="the-message")
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE and job.attempts == 2 and job.delivery == "the-message"
    assert Datasheet.objects.filter(version=version).count() == 1


def test_a_worker_shutting_down_hands_back_only_the_tasks_it_cancelled(engineer, settings):
    started = timezone.now() - timedelta(minutes=5)
    mine, version = _datasheet_job(engineer, settings)
    done, _ = _datasheet_job(engineer, settings)
    lost_before, _ = _datasheet_job(engineer, settings)
    retry_elsewhere, _ = _datasheet_job(engineer, settings)
    namesake, _ = _datasheet_job(engineer, settings)
    now = timezone.now()
    Job.objects.filter(pk=mine.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=now,
                                          delivery="m1", worker="gpu@host:101")
    Job.objects.filter(pk=done.pk).update(status=JobStatus.COMPLETE, attempts=1, heartbeat_at=now,
                                          delivery="m2", worker="gpu@host:102")
    Job.objects.filter(pk=lost_before.pk).update(status=JobStatus.RUNNING, attempts=1, delivery="m3",
                                                 worker="gpu@host:99", heartbeat_at=started - timedelta(minutes=1))
    # Its last attempt ran in the same pool process; its transient-error retry waits on another worker.
    Job.objects.filter(pk=retry_elsewhere.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=now,
                                                     delivery="m4", worker="gpu@host:101")
    # Another worker started with the same node name.
    Job.objects.filter(pk=namesake.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=now,
                                              delivery="m5", worker="gpu@host:103")
    cancelled = [("m1", "gpu@host:101"), ("m2", "gpu@host:102"), ("m3", "gpu@host:99")]
    assert jobs.job_hand_back(deliveries=cancelled, since=started) == [mine.pk]
    mine.refresh_from_db()
    # Still running (the stale-job sweep keeps watching it), its holder as it was; the hand-back counted.
    assert mine.status == JobStatus.RUNNING and mine.handed_back == 1 and mine.attempts == 1
    assert mine.worker == "gpu@host:101" and mine.delivery == "m1"
    others = Job.objects.filter(pk__in=[done.pk, lost_before.pk, retry_elsewhere.pk, namesake.pk])
    assert [j.handed_back for j in others] == [0, 0, 0, 0]
    # The restored message (same task id) takes the job over: a second attempt, not charged to the limit.
    Job.objects.filter(pk=mine.pk).update(attempts=settings.JOB_MAX_ATTEMPTS, handed_back=1)
    _task("governance.build_datasheet").apply(args=[mine.pk], task_id="m1")
    mine.refresh_from_db()
    assert mine.status == JobStatus.COMPLETE and mine.attempts == settings.JOB_MAX_ATTEMPTS + 1
    assert Datasheet.objects.filter(version=version).count() == 1


def test_a_handed_back_job_whose_worker_died_before_restoring_it_is_swept(engineer, settings,
                                                                         django_capture_on_commit_callbacks):
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(),
                                         delivery="m1", worker="gpu@host:101")
    assert jobs.job_hand_back(deliveries=[("m1", "gpu@host:101")], since=timezone.now() - timedelta(minutes=1))
    # SIGKILLed before Redis got the message back: it sits in the unacked set for the visibility timeout,
    # but the row's heartbeat goes stale and the sweep re-sends the job (the attempt not charged).
    old = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=job.pk).update(attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=old)
    settings.JOB_DISPATCH = "inline"
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.job_requeue_stale() == {"requeued": [job.pk], "failed": []}
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETE and job.handed_back == 1
    assert Datasheet.objects.filter(version=version).count() == 1


@pytest.mark.django_db(transaction=True)  # the hand-back runs in a thread of its own, on its own connection
def test_the_shutdown_handler_hands_back_each_cancelled_task_once_on_its_own_connection(monkeypatch):
    from django.db import connection

    from workers import celery as worker_app
    from governance.jobs.tasks import cancelled_requests

    job = Job.objects.create(kind="datasheet", subject_type="datasets.datasetversion", subject_id=1,
                             status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now(), delivery="m1",
                             worker="gpu@host:101")
    monkeypatch.setattr(worker_app, "_ready_at", timezone.now() - timedelta(minutes=1))
    main_connection = connection.connection
    assert main_connection is not None
    try:
        cancelled_requests.append(("m1", "gpu@host:101"))
        worker_app._hand_back_on_shutdown(sender="gpu@host", how="Warm")  # lets its tasks finish
        assert cancelled_requests and Job.objects.get(pk=job.pk).handed_back == 0
        worker_app._hand_back_on_shutdown(sender="gpu@host", how="Cold")
        worker_app._hand_back_on_shutdown(sender="gpu@host", how="Cold")  # a second signal: nothing more
    finally:
        cancelled_requests.clear()
    job.refresh_from_db()
    assert job.handed_back == 1 and job.status == JobStatus.RUNNING
    assert connection.connection is main_connection  # the main thread's connection was not closed


def test_hand_backs_are_forgiven_only_up_to_a_limit(engineer, settings):
    settings.JOB_MAX_HANDED_BACK = 2
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED, attempts=settings.JOB_MAX_ATTEMPTS + 2,
                                         handed_back=5)
    _task("governance.build_datasheet").apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "lost 0 times and shut down 5 times" in job.error
    assert not Datasheet.objects.filter(version=version).exists()


def test_the_sweep_requeues_a_stranded_job_and_fails_one_out_of_attempts(engineer, settings,
                                                                       django_capture_on_commit_callbacks):
    stranded, version = _datasheet_job(engineer, settings)
    spent, _ = _datasheet_job(engineer, settings)
    fresh, _ = _datasheet_job(engineer, settings)
    old = timezone.now() - timedelta(seconds=settings.JOB_STALE_AFTER_S + 5)
    Job.objects.filter(pk=stranded.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=old, delivery="x")
    Job.objects.filter(pk=spent.pk).update(status=JobStatus.RUNNING, attempts=3, heartbeat_at=old, delivery="y")
    Job.objects.filter(pk=fresh.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())
    settings.JOB_DISPATCH = "inline"
    with django_capture_on_commit_callbacks(execute=True):
        outcome = _task("governance.requeue_stale_jobs").apply().get()
    assert outcome == {"requeued": [stranded.pk], "failed": [spent.pk]}
    stranded.refresh_from_db(), spent.refresh_from_db(), fresh.refresh_from_db()
    assert stranded.status == JobStatus.COMPLETE and stranded.attempts == 2
    assert Datasheet.objects.filter(version=version).count() == 1
    assert spent.status == JobStatus.FAILED and fresh.status == JobStatus.RUNNING


def test_the_sweep_command_reports_what_it_did(engineer, settings):
    from io import StringIO

    from django.core.management import call_command

    job, _ = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=3,
                                         heartbeat_at=timezone.now() - timedelta(seconds=120))
    out = StringIO()
    call_command("jobs_requeue_stale", "--older-than", "60", stdout=out)
    assert f"failed 1 job(s) [{job.pk}]" in out.getvalue()


def test_a_transient_database_error_is_retried_and_the_job_completes(engineer, settings, monkeypatch):
    from governance.datasets import selectors

    job, version = _datasheet_job(engineer, settings)
    real, calls = selectors.datasheet_inputs, []

    def flaky(**kwargs):  # the first read fails the way a restarting PostgreSQL does
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "datasheet_inputs", flaky)
    result = _task("governance.build_datasheet").apply(args=[job.pk])
    assert result.successful(), result.traceback
    job.refresh_from_db()
    assert len(calls) == 2 and job.status == JobStatus.COMPLETE and job.attempts == 2
    assert Datasheet.objects.filter(version=version).count() == 1


def test_tasks_declare_late_ack_requeue_on_lost_worker_and_backoff():
    from django.conf import settings

    for name in ("governance.run_audit", "governance.train_model_version", "governance.build_datasheet"):
        task = _task(name)
        assert task.acks_late and task.reject_on_worker_lost and task.max_retries >= 1
        assert OperationalError in task.autoretry_for and task.retry_backoff
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_the_sweep_is_registered_with_beat_once(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("governance.jobs.migrations.0003_requeue_stale_schedule")
    migration.register(apps, None)
    migration.register(apps, None)
    sweep = PeriodicTask.objects.get(task="governance.requeue_stale_jobs")
    assert sweep.interval.every == 60 and sweep.queue == "default" and sweep.enabled
    assert PeriodicTask.objects.filter(task="governance.requeue_stale_jobs").count() == 1


def test_only_tasks_whose_first_parameter_is_job_id_are_treated_as_job_tasks():
    assert _task("governance.run_audit")._job_id((5,), {}) == 5
    assert _task("governance.build_datasheet")._job_id((), {"job_id": 7}) == 7
    assert _task("governance.requeue_stale_jobs")._job_id((5,), {}) is None


def test_a_job_that_used_its_attempts_is_recorded_failed_on_its_subject(engineer, settings):
    from governance.registry.models import ModelVersion
    from governance.registry.services import model_version_request_training

    settings.JOB_DISPATCH = "celery"
    data = upload_hiring(engineer, n_rows=40)
    version = model_version_request_training(actor=engineer, model_name="poison", dataset_version=data, epochs=1)
    job = Job.objects.get(kind="training", subject_id=version.pk)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS,
                                         heartbeat_at=timezone.now() - timedelta(hours=1), delivery="lost")
    _task("governance.train_model_version").apply(args=[job.pk])
    version.refresh_from_db()
    assert version.status == "failed" and "Gave up after 3 attempts" in version.error
    from governance.auditlog.models import AuditLogEntry

    assert AuditLogEntry.objects.filter(action="model_version.training_failed", object_id=str(version.pk)).count() == 1
    _task("governance.train_model_version").apply(args=[job.pk])  # a further redelivery changes nothing
    assert AuditLogEntry.objects.filter(action="model_version.training_failed", object_id=str(version.pk)).count() == 1
    assert ModelVersion.objects.get(pk=version.pk).status == "failed"


def test_the_jobs_api_filters_by_status_kind_subject_and_attempts(api_client, engineer, settings):
    job, version = _datasheet_job(engineer, settings)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=2)
    api_client.force_authenticate(engineer)

    def ids(query):
        response = api_client.get(f"/api/jobs/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("status=running&kind=datasheet") == [job.pk]
    assert ids(f"subject_type=datasets.datasetversion&subject_id={version.pk}&min_attempts=2") == [job.pk]
    assert ids("min_attempts=3") == [] and job.pk not in ids("status=queued")
    assert api_client.get("/api/jobs/?status=lost").status_code == 400
