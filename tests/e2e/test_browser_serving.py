"""In headless Chromium: an ML engineer creates a service token (shown once), the token serves, the model
page shows the deployment's monitoring with its charts and the alert that suspended it, the home page shows
the alert; axe finds no serious violation on the pages visited."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from governance.serving.decision_queue import decisions_store, queue
from governance.serving.services import outcomes_record, serving_policy_update
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD
from tests.governance.serving.served import artifacts, deploy, permissive, version_with_artifact  # noqa: F401

pytestmark = [pytest.mark.browser]


def test_a_token_from_the_browser_serves_and_the_model_page_shows_monitoring(live_server, transactional_db,
                                                                              permissive, artifacts, settings):
    from governance.roles import REVIEWER
    from tests.factories import make_user

    settings.JOB_DISPATCH = "inline"
    for key in queue().scan_iter("serving:decisions:*"):
        queue().delete(key)
    engineer, reviewer = make_user(), make_user(REVIEWER)
    version = version_with_artifact(engineer, artifacts[1])
    deploy(version, engineer=engineer, reviewer=reviewer)
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/serving/")
        assert_accessible(page, "serving page")
        page.select_option("#id_model", str(version.model_id))
        page.select_option("#id_environment", "staging")
        page.fill("#id_name", "browser intake")
        page.click("text=Create the token")
        token = page.input_value("#new-token")
        assert token.startswith("gst_") and "copy it now" in page.content()
        answer = httpx.post(f"{live_server.url}/api/serve/{version.model_id}/staging/predict/",
                            json={"instances": [{"text": "Nurse, ten years on a ward."}]},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["model_version"] == version.pk
        page.goto(f"{live_server.url}/serving/")
        assert token not in page.content()

        # A day of decisions with a disparity; the policy suspends on an alert.
        serving_policy_update(actor=permissive, environment="staging", min_decisions=50, auto_suspend=True,
                              fairness_rules=[{"metric": "demographic_parity_difference", "grouping": "*",
                                               "max": 0.1, "judge_on": "upper"}])
        deployment = version.deployments.get()
        rows = [{"id": str(uuid.uuid4()), "decided_at": (timezone.now() - timedelta(minutes=3)).isoformat(),
                 "project_id": version.model.project_id, "model_id": version.model_id, "model_version_id": version.pk,
                 "deployment_id": deployment.pk, "environment": "staging", "token_id": None, "input_sha256": "0" * 64,
                 "text": None, "subject_id": "", "attributes": {"gender": g, "age_band": "30-39"},
                 "predicted_label": "yes" if (g == "male") == (i % 5 != 0) else "no",
                 "probabilities": {"no": 0.5, "yes": 0.5}}
                for i in range(200) for g in ("female", "male")]
        decisions_store([json.dumps(r) for r in rows])
        outcomes_record(actor=engineer, outcomes=[{"decision_id": uuid.UUID(r["id"]), "label": r["predicted_label"]}
                                                  for r in rows])
        page.goto(f"{live_server.url}/models/{version.model_id}/")
        page.click("text=Run now")
        page.wait_for_url(f"{live_server.url}/models/{version.model_id}/")
        content = page.content()
        assert "Serving and monitoring" in content and "Open alerts" in content and "suspended" in content
        assert page.locator("figure svg").count() == 3
        assert_accessible(page, "model page with monitoring")
        page.goto(f"{live_server.url}/")
        assert "Monitoring alerts" in page.content()
        assert_accessible(page, "home with an alert")
    assert httpx.post(f"{live_server.url}/api/serve/{version.model_id}/staging/predict/",
                      json={"instances": [{"text": "x"}]}, headers={"Authorization": f"Bearer {token}"},
                      timeout=60).status_code == 409  # the alert suspended the deployment
