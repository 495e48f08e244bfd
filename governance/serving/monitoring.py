"""Monitoring jobs: per deployment and window (a day, a week), the figures of its decisions
(monitoring_figures.py), judged against the environment's serving policy; a crossed threshold raises an
alert (home page, the `monitoring.alert` webhook, e-mail) and, when the policy says so, suspends the
deployment (registry.deployments.deployments_suspend, as a lost approval does).

Each report is a row with its job (kind "monitoring", task governance.run_monitoring, default queue); the
periodic task governance.monitoring_schedule (hourly) queues the windows that ended since the last run for
every deployment that served in them; `POST /api/monitoring-reports/` or the model page queues one now.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from governance.accounts.predicates import object_require_role, object_visible
from governance.approvals.notifications import audit_log_event_notify
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import InvalidState, ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.registry.deployments import deployments_suspend
from governance.registry.models import Deployment
from governance.roles import ML_ENGINEER, REVIEWER
from governance.serving.models import MonitoringAlert, MonitoringReport, MonitoringStatus, MonitoringWindow
from governance.serving.monitoring_figures import training_counts, window_cells, window_checks, window_figures
from governance.serving.services import serving_policy_get

log = logging.getLogger(__name__)
MONITORING_JOB_KIND = "monitoring"
MONITOR_TASK = "governance.run_monitoring"
WINDOW_LENGTH = {MonitoringWindow.DAY: timedelta(days=1), MonitoringWindow.WEEK: timedelta(days=7)}


def _report_queue(*, deployment: Deployment, window: str, start: datetime, end: datetime, actor) -> MonitoringReport:
    report, created = MonitoringReport.objects.get_or_create(deployment=deployment, window=window, window_start=start,
                                                             defaults={"window_end": end})
    if not created and report.status not in (MonitoringStatus.FAILED,) and report.window_end >= end:
        return report
    report.window_end, report.status, report.error = end, MonitoringStatus.QUEUED, ""
    report.save(update_fields=["window_end", "status", "error"])
    job = jobs.job_create(kind=MONITORING_JOB_KIND, subject=report, created_by=actor)
    audit_log_append(actor=actor, action="monitoring.requested", obj=report,
                     payload={"deployment": deployment.pk, "window": window, "start": start.isoformat(),
                              "end": end.isoformat()})
    enqueue(MONITOR_TASK, job.pk)
    return report


@transaction.atomic
def monitoring_request(*, actor, deployment: int, window: str, window_end: datetime | None = None) -> MonitoringReport:
    """Queue the monitoring of a deployment over the `window` ending at `window_end` (default now)."""
    audit_log_lock()
    found = Deployment.objects.select_related("model_version__model").filter(pk=deployment).first()
    if found is None:
        raise ValidationFailed("No such deployment.", field="deployment")
    if not object_visible(actor, found.model_version.model):  # another project's: the same answer as unknown
        raise ValidationFailed("No such deployment.", field="deployment")
    object_require_role(actor, found.model_version.model, ML_ENGINEER, REVIEWER, what="deployment")
    end = window_end or timezone.now()
    if end < found.started_at:
        raise InvalidState("The window ends before the deployment started.")
    return _report_queue(deployment=found, window=window, start=end - WINDOW_LENGTH[window], end=end, actor=actor)


@transaction.atomic
def monitoring_schedule(*, now: datetime | None = None) -> list[int]:
    """Queue the last complete day (UTC midnight to midnight) and week (Monday to Monday) of every deployment
    that served in it and has no report for it yet. Repeating it queues nothing new."""
    audit_log_lock()
    now = now or timezone.now()
    midnight = now.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = [(MonitoringWindow.DAY, midnight - timedelta(days=1), midnight),
               (MonitoringWindow.WEEK, midnight - timedelta(days=midnight.weekday() + 7),
                midnight - timedelta(days=midnight.weekday()))]
    queued = []
    for window, start, end in windows:
        served = Deployment.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)
        done = set(MonitoringReport.objects.filter(window=window, window_start=start).values_list("deployment_id",
                                                                                                  flat=True))
        for deployment in served.exclude(pk__in=done):
            queued.append(_report_queue(deployment=deployment, window=window, start=start, end=end, actor=None).pk)
    return queued


def monitoring_run(*, job_id: int) -> None:
    jobs.job_run(job_id=job_id, name="monitoring", load=lambda job: MonitoringReport.objects.select_related(
                     "deployment__model_version__dataset_version").get(pk=job.subject_id),
                 done=lambda report: report.status not in (MonitoringStatus.QUEUED, MonitoringStatus.FAILED),
                 compute=_compute, store=_store, failed=_failed)


def _compute(report: MonitoringReport, job) -> dict:
    version = report.deployment.model_version
    dataset_version = version.dataset_version
    attributes = list(dataset_version.sensitive_attributes or []) if dataset_version else []
    policy = serving_policy_get(report.deployment.environment)
    with tqdm(total=4, desc=f"monitoring #{report.pk}", unit="step", disable=None) as bar:
        jobs.job_progress(job=job, stage="aggregating decisions", percent=5, force=True)
        cells = window_cells(deployment_id=report.deployment_id, start=report.window_start, end=report.window_end,
                             attributes=attributes)
        bar.update()
        jobs.job_progress(job=job, stage="reading the training data", percent=35, force=True)
        training = (training_counts(dataset_version_id=dataset_version.pk, attributes=attributes)
                    if dataset_version else {"label": {}})
        bar.update()
        jobs.job_progress(job=job, stage="drift and fairness", percent=60, force=True)
        results = window_figures(cells=cells, attributes=attributes, training=training,
                                 label_names=list(version.label_names or []),
                                 positive_label=dataset_version.positive_label if dataset_version else None,
                                 n_boot=policy.n_boot, seed=report.pk)
        bar.update()
        results["checks"] = window_checks(results=results, policy=policy, attributes=attributes)
        results["policy"] = {"environment": policy.environment, "min_decisions": policy.min_decisions,
                             "auto_suspend": policy.auto_suspend}
        bar.update()
    return results


@transaction.atomic
def _store(report: MonitoringReport, job, results: dict) -> None:
    audit_log_lock()
    report = MonitoringReport.objects.select_for_update().select_related("deployment__model_version__model").get(
        pk=report.pk)
    if report.status != MonitoringStatus.QUEUED:
        jobs.job_complete(job=job)
        return
    policy = serving_policy_get(report.deployment.environment)
    failing = [c for c in results["checks"] if not c["passed"]]
    too_few = results["decisions"] < policy.min_decisions
    report.status = (MonitoringStatus.TOO_FEW if too_few else MonitoringStatus.ALERT if failing
                     else MonitoringStatus.OK)
    report.decisions, report.with_outcomes = results["decisions"], results["outcomes"]["count"]
    report.results, report.computed_at = results, timezone.now()
    report.save(update_fields=["status", "decisions", "with_outcomes", "results", "computed_at"])
    audit_log_append(actor=None, action="monitoring.completed", obj=report,
                     payload={"deployment": report.deployment_id, "window": report.window,
                              "start": report.window_start.isoformat(), "status": report.status,
                              "decisions": report.decisions, "failing": [c["rule"] for c in failing]})
    if report.status == MonitoringStatus.ALERT:
        _alert(report=report, failing=failing, policy=policy)
    jobs.job_complete(job=job)


def _alert(*, report: MonitoringReport, failing: list[dict], policy) -> None:
    deployment = report.deployment
    suspend = policy.auto_suspend and deployment.ended_at is None and deployment.suspended_at is None \
        and deployment.request_id is not None
    alerts = [MonitoringAlert.objects.create(report=report, deployment=deployment, rule=c["rule"][:100],
                                             message=c["message"][:500], measured=c["measured"],
                                             threshold=c["threshold"], suspended=suspend) for c in failing]
    reason = (f"monitoring alert ({report.get_window_display().lower()} from {report.window_start:%Y-%m-%d}): "
              + "; ".join(c["message"] for c in failing))
    if suspend:
        deployments_suspend(actor=None, request_id=deployment.request_id, reason=reason[:300])
    payload = {"deployment": deployment.pk, "model": deployment.model_version.model.name,
               "model_version": deployment.model_version_id, "environment": deployment.environment,
               "report": report.pk, "window": report.window, "window_start": report.window_start.isoformat(),
               "alerts": [{"id": a.pk, "rule": a.rule, "message": a.message, "measured": a.measured,
                           "threshold": a.threshold} for a in alerts],
               "suspended": suspend}
    audit_log_append(actor=None, action="monitoring.alert", obj=report, payload=payload)
    audit_log_event_notify(event="monitoring.alert", payload=payload)
    emails = sorted({e.strip() for e in policy.alert_emails.replace(";", ",").split(",") if e.strip()})
    if emails:
        subject = (f"Monitoring alert: {deployment.model_version} in {deployment.environment}"
                   + (" (suspended)" if suspend else ""))
        transaction.on_commit(lambda: _mail(subject, reason, emails))


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError:
        log.exception("could not send '%s' to %s", subject, recipients)


def _failed(report: MonitoringReport, job_id: int, error: str) -> None:
    MonitoringReport.objects.filter(pk=report.pk).update(status=MonitoringStatus.FAILED, error=error[:4000])
    jobs.job_fail(job_id=job_id, error=error)


def monitoring_job_failed(*, job_id: int, error: str) -> None:
    from governance.jobs.models import Job

    report_id = Job.objects.filter(pk=job_id).values_list("subject_id", flat=True).first()
    MonitoringReport.objects.filter(pk=report_id, status=MonitoringStatus.QUEUED).update(
        status=MonitoringStatus.FAILED, error=error[:4000])


@transaction.atomic
def monitoring_alert_acknowledge(*, actor, alert: MonitoringAlert) -> MonitoringAlert:
    audit_log_lock()
    locked = MonitoringAlert.objects.select_for_update().select_related("deployment__model_version__model").get(
        pk=alert.pk)
    object_require_role(actor, locked.deployment.model_version.model, ML_ENGINEER, REVIEWER, what="alert")
    if locked.acknowledged_at is not None:
        raise InvalidState("This alert was already acknowledged.")
    locked.acknowledged_at, locked.acknowledged_by = timezone.now(), actor
    locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit_log_append(actor=actor, action="monitoring.alert_acknowledged", obj=locked,
                     payload={"deployment": locked.deployment_id, "rule": locked.rule})
    return locked
