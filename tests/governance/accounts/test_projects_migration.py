"""The projects migration (accounts 0002, datasets 0006-0007, registry 0005-0006, jobs 0005) on a database
written before projects: every dataset, model and job goes to the "default" project; ML engineers and
reviewers become its members with their role and leave the global group; compliance officers and auditors
stay organisation-wide."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0001_roles"), ("datasets", "0005_metadata_confirmation"),
          ("registry", "0004_deployment_suspension"), ("jobs", "0004_handed_back")]


def test_objects_and_roles_written_before_projects_go_to_the_default_project(as_owner):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        User, Group = old.get_model("auth", "User"), old.get_model("auth", "Group")
        users = {name: User.objects.create(username=name) for name in ("eng", "rev", "officer", "auditor")}
        for name, group in (("eng", "ml_engineer"), ("rev", "reviewer"), ("officer", "compliance_officer"),
                            ("auditor", "auditor")):
            # the roles' groups come from a data migration; a transactional test run earlier may have flushed them
            Group.objects.get_or_create(name=group)[0].user_set.add(users[name])
        dataset = old.get_model("datasets", "Dataset").objects.create(name="applicants", owner=users["eng"])
        model = old.get_model("registry", "Model").objects.create(name="screener", owner=users["eng"])
        job = old.get_model("jobs", "Job").objects.create(kind="training", subject_type="registry.modelversion",
                                                          subject_id=1)
        webhook_job = old.get_model("jobs", "Job").objects.create(kind="webhook", subject_type="approvals.webhookdelivery",
                                                                  subject_id=1)
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    from django.contrib.auth.models import User as CurrentUser

    from governance.accounts.models import Membership, Project
    from governance.datasets.models import Dataset
    from governance.jobs.models import Job
    from governance.registry.models import Model

    default = Project.objects.get(slug="default")
    assert Dataset.objects.get(pk=dataset.pk).project == default
    assert Model.objects.get(pk=model.pk).project == default
    assert Job.objects.get(pk=job.pk).project_id == default.pk
    assert Job.objects.get(pk=webhook_job.pk).project_id is None  # a delivery belongs to no project
    members = set(Membership.objects.filter(project=default).values_list("user__username", "role"))
    assert members == {("eng", "ml_engineer"), ("rev", "reviewer")}
    groups = {u.username: set(u.groups.values_list("name", flat=True)) for u in CurrentUser.objects.all()}
    assert groups == {"eng": set(), "rev": set(), "officer": {"compliance_officer"}, "auditor": {"auditor"}}
