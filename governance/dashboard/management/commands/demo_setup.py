"""Loads the demo: two projects (teams) and their members, organisation-wide officers, the organisation
profile, a seeded hiring dataset with a trained and audited model in "hiring", and a dataset in
"credit-risk" that the hiring team never sees (projects scope every list, page and API call).

Runs each job inline (with a terminal progress bar) so the dashboard is populated when it returns.
Safe to run again: an already loaded demo is left as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.test.utils import override_settings

from governance import roles
from governance.accounts.models import Project
from governance.accounts.projects import project_create
from governance.accounts.services import user_create
from governance.approvals.models import DeploymentPolicy
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create)
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.services import audit_log_checkpoint_write
from governance.compliance.services import organisation_profile_update
from governance.datasets.models import Dataset
from governance.datasets.services import dataset_metadata_confirm, dataset_upload, dataset_version_reweigh
from governance.registry.choices import VersionStatus
from governance.registry.services import model_version_request_training
from models_core.data.synthetic import SyntheticSpec, hiring_csv

HIRING, CREDIT = "hiring", "credit-risk"
PROJECTS = [(HIRING, "Hiring", "CV screening models for the recruiting team."),
            (CREDIT, "Credit risk", "Credit application scoring for the lending team.")]
# username, password, organisation-wide roles (groups), roles within projects
USERS = [
    ("engineer", "demo-engineer-pass", [], [(HIRING, roles.ML_ENGINEER)]),
    ("reviewer", "demo-reviewer-pass", [], [(HIRING, roles.REVIEWER)]),
    ("reviewer2", "demo-reviewer2-pass", [], [(HIRING, roles.REVIEWER)]),
    ("credit-engineer", "demo-credit-engineer-pass", [], [(CREDIT, roles.ML_ENGINEER)]),
    ("credit-reviewer", "demo-credit-reviewer-pass", [], [(CREDIT, roles.REVIEWER), (HIRING, roles.AUDITOR)]),
    ("compliance", "demo-compliance-pass", [roles.COMPLIANCE_OFFICER], []),
    ("auditor", "demo-auditor-pass", [roles.AUDITOR], []),
]
REVIEWER_PASSWORD = USERS[1][1]  # the approval is signed with the reviewer's password, as on the page
CREDIT_DATASET = "credit-applications"
DATASET = "hiring-applicants"
HOLDOUT = "hiring-applicants-holdout"
PERSONAL_DATA = {
    "lawful_basis": "legitimate_interests",
    "purposes": "Screening job applications for interview shortlisting.",
    "data_subject_categories": "Job applicants",
    "personal_data_categories": "CV summary, gender, age band",
    "special_categories": False,
    "recipients": "HR department; recruiting agencies under contract",
    "retention_days": 365,
    "source": "Applicant tracking system export",
    "dpia_reference": "DPIA-2026-014",
}


# Directional expectations of the demo audit: evidence that should move a hiring score one way only.
ROBUSTNESS_EXPECTATIONS = [{"phrase": "They have no relevant experience.", "direction": "down"},
                           {"phrase": "They led a team of twenty engineers.", "direction": "up"}]


class Command(BaseCommand):
    help = "Load the demo users, data, model, audit and an approved staging deployment."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=3000, help="Training rows (default 3000).")
        parser.add_argument("--explain-rows", type=int, default=24,
                            help="Audit rows explained with SHAP, LIME and IG (default 24).")

    def handle(self, *args, rows: int, explain_rows: int, **options):
        self._set_aside_checkpoints_of_another_database()
        self._projects()
        self._users()
        self._policies()
        if Dataset.objects.filter(name=DATASET).exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            self._print_logins()
            return
        engineer, reviewer = User.objects.get(username="engineer"), User.objects.get(username="reviewer")
        compliance = User.objects.get(username="compliance")
        organisation_profile_update(actor=compliance, controller_name="Example Hiring Ltd",
                                    controller_contact="privacy@example.com, 1 Example Street, London",
                                    dpo_name="Dana Protect", dpo_contact="dpo@example.com",
                                    security_measures="Encryption at rest and in transit; role-based access; "
                                                      "hash-chained audit log; quarterly access reviews.")
        self.stdout.write(f"Uploading {rows} synthetic applicant summaries (women's hiring labels flipped at 40%)…")
        with override_settings(JOB_DISPATCH="inline"):  # each upload's datasheet job runs before we go on
            train = dataset_upload(actor=engineer, name=DATASET,
                                   raw=hiring_csv(SyntheticSpec(n_rows=rows)).encode(),
                                   file_name="hiring.csv", text_column="text", label_column="hired",
                                   subject_column="subject_id", sensitive_attributes=["gender", "age_band"],
                                   description="Seeded synthetic CV summaries with an injected gender disparity.",
                                   **PERSONAL_DATA)
            holdout = dataset_upload(actor=engineer, name=HOLDOUT,
                                     raw=hiring_csv(SyntheticSpec(n_rows=max(200, rows // 3), seed=8)).encode(),
                                     file_name="hiring-holdout.csv", text_column="text", label_column="hired",
                                     subject_column="subject_id", sensitive_attributes=["gender", "age_band"],
                                     description="Held-out applicants for audits.", **PERSONAL_DATA)
            reweighed = dataset_version_reweigh(actor=engineer, version=train)
        # The checker confirms what the maker declared: the DPIA and lawful-basis gates count it only then.
        for dataset in (train.dataset, holdout.dataset):
            dataset_metadata_confirm(actor=compliance, dataset=dataset)
        self._report_datasheet(train)
        self._report_datasheet(reweighed)
        with override_settings(JOB_DISPATCH="inline"):
            self.stdout.write("Training a classifier on the pretrained MiniLM-L6 encoder (frozen)…")
            version = model_version_request_training(
                actor=engineer, model_name="hiring-screener", dataset_version=train,
                intended_purpose="Rank applicants for interview shortlisting; a recruiter reviews every decision.")
            version.refresh_from_db()
            if version.status != VersionStatus.READY:
                raise SystemExit(f"Training failed: {version.error}")
            self.stdout.write(f"  validation accuracy {version.metrics.get('val_accuracy'):.3f} "
                              f"(majority baseline {version.metrics.get('baseline_accuracy'):.3f})")
            self.stdout.write("Auditing it on the held-out applicants…")
            audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout,
                                  explain_rows=explain_rows, robustness=True,
                                  robustness_expectations=ROBUSTNESS_EXPECTATIONS, robustness_max_texts=500)
            audit.refresh_from_db()
            if audit.status != "complete":
                raise SystemExit(f"Audit failed: {audit.error}")
            self._report_robustness(audit)
        gender = audit.results.get(kind="fairness").data["groupings"]["gender"]["disparities"]
        dpd = gender["demographic_parity_difference"]
        self.stdout.write(f"  accuracy {audit.summary['accuracy']:.3f}; demographic parity difference by gender "
                          f"{dpd['value']:.3f} [{dpd['ci'][0]:.3f}, {dpd['ci'][1]:.3f}]")
        request = deployment_request_create(actor=engineer, model_version=version, environment="staging",
                                            audit=audit, justification="Pilot in staging to compare against "
                                                                       "recruiter decisions.")
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=REVIEWER_PASSWORD,
                                   reason="Staging only; fairness gap must be mitigated before production.")
        self._mitigate(engineer, version, train, holdout)
        self._generative(engineer, scorer=version)
        self._credit_risk(rows=max(200, rows // 5))
        checkpoint = audit_log_checkpoint_write(None, reason="demo")  # so the log page has one to verify against
        self.stdout.write(f"  audit log signed at #{checkpoint['seq']} {checkpoint['head_hash'][:16]}…")
        self.stdout.write(self.style.SUCCESS("Demo loaded."))
        self._print_logins()

    def _mitigate(self, engineer, version, train, holdout) -> None:
        """Journey 1 step 5: thresholds for demographic parity by gender, fitted on the training data's
        held-out validation split, then the child audited on the same holdout as its parent."""
        from governance.registry.mitigation import model_version_mitigate

        self.stdout.write("Mitigating: group thresholds for demographic parity by gender (fairlearn)…")
        with override_settings(JOB_DISPATCH="inline"):
            child = model_version_mitigate(actor=engineer, model_version=version, dataset_version=train,
                                           constraint="demographic_parity", attribute="gender")
            child.refresh_from_db()
            if child.status != VersionStatus.READY:
                raise SystemExit(f"Mitigation failed: {child.error}")
            audit = audit_request(actor=engineer, model_version=child, dataset_version=holdout, explain_rows=0)
            audit.refresh_from_db()
            if audit.status != "complete":
                raise SystemExit(f"Audit of the mitigated version failed: {audit.error}")
        dpd = audit.results.get(kind="fairness").data["groupings"]["gender"]["disparities"][
            "demographic_parity_difference"]
        self.stdout.write(f"  {child}: accuracy {audit.summary['accuracy']:.3f}; demographic parity difference by "
                          f"gender {dpd['value']:.3f} [{dpd['ci'][0]:.3f}, {dpd['ci'][1]:.3f}]")

    def _report_robustness(self, audit) -> None:
        """The demo audit's robustness figures (issue 21), as its report shows them."""
        from governance.audits.robustness import suites_in_order

        result = audit.results.get(kind="robustness").data

        def shown(figure) -> str:
            low, high = figure["ci"]
            return "—" if figure["value"] is None else f"{figure['value']:.3f} [{low:.3f}, {high:.3f}]"

        flips = ", ".join(f"{name} {shown(s['flip_rate'])}" for name, s in suites_in_order(result)
                          if s["n_changed"])
        self.stdout.write(f"  robustness on {result['n_texts']} texts, flip rate: {flips}")
        for e in result["directional"]:
            self.stdout.write(f"  adding “{e['phrase']}” ({e['direction']}): failure rate {shown(e['failure_rate'])}")
        attack = result["adversarial"]
        if "attack_success_rate" in attack:
            self.stdout.write(f"  word-substitution attack: success {shown(attack['attack_success_rate'])} on "
                              f"{attack['n_attacked']} texts, {attack['queries_per_success'] or 0:.0f} queries per success")

    def _report_datasheet(self, version) -> None:
        from governance.datasets.selectors import datasheet_get

        sheet = datasheet_get(version)
        if sheet is None:
            raise SystemExit(f"The datasheet of {version} was not computed.")
        gap = sheet.data["slices"]["gender"]["groups"]["female"]["positive_rate_gap"]
        weighted = " (weighted)" if sheet.data["config"]["weighted"] else ""
        self.stdout.write(f"  datasheet of {version}: women's hiring-label rate minus men's{weighted} "
                          f"{gap['estimate']:+.3f} [{gap['ci'][0]:+.3f}, {gap['ci'][1]:+.3f}]")

    def _policies(self) -> None:
        """Staging: one approval; production: two reviewers signing with TOTP, and the fairness gap must be closed."""
        if DeploymentPolicy.objects.exists():
            return
        compliance = User.objects.get(username="compliance")
        deployment_policy_update(actor=compliance, environment="staging", required_approvals=1,
                                 max_audit_age_days=90)
        deployment_policy_update(actor=compliance, environment="production", required_approvals=2,
                                 min_accuracy=0.7, max_audit_age_days=30, fairness_rules=[
                                     {"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1},
                                     {"metric": "equalized_odds_difference", "grouping": "*", "max": 0.15}],
                                 require_totp=True, max_invariance_flip_rate=0.05, max_directional_failure_rate=0.05)

    def _set_aside_checkpoints_of_another_database(self) -> None:
        """A fresh demo database (an empty log) next to signed checkpoints left by an earlier one (the SQLite
        file deleted): the checkpoint writer would rightly refuse to sign a log those checkpoints do not match.
        They belong to that earlier database, so the demo moves them aside, says where, and starts afresh."""
        folder = Path(settings.AUDIT_CHECKPOINT_DIR)
        old = sorted(folder.glob("checkpoint-*.json")) if folder.is_dir() else []
        if not old or AuditLogEntry.objects.exists():
            return
        aside = folder.with_name(f"{folder.name}.previous-{timezone.now():%Y%m%dT%H%M%S}")
        aside.mkdir(parents=True)
        for path in old:
            shutil.move(str(path), aside / path.name)
        self.stdout.write(f"The demo database is new: the signed checkpoints of an earlier one ({len(old)}) "
                          f"were moved to {aside}.")

    def _generative(self, engineer, *, scorer) -> None:
        """Issue 23: a small decoder trained on service notes (people, e-mails, phones) with canaries planted,
        and its memorisation audit (canary exposure, extraction of personal data, prompt swap scored by the
        hiring classifier)."""
        from models_core.data.notes import service_notes_csv

        self.stdout.write("Uploading 60 subjects' service notes (names, e-mails, phones) for a generative model…")
        with override_settings(JOB_DISPATCH="inline"):
            notes = dataset_upload(actor=engineer, name="service-notes", raw=service_notes_csv(60, seed=4).encode(),
                                   file_name="service-notes.csv", text_column="text", label_column="topic",
                                   subject_column="subject_id", sensitive_attributes=[],
                                   description="Seeded synthetic customer-service notes with personal data.",
                                   **PERSONAL_DATA)
            self.stdout.write("Training a small byte-level decoder on them (canaries planted 1, 4 and 16 times)…")
            decoder = model_version_request_training(
                actor=engineer, model_name="notes-writer", dataset_version=notes, kind="decoder", epochs=12,
                intended_purpose="Draft customer-service notes; an agent edits every draft.")
            decoder.refresh_from_db()
            if decoder.status != VersionStatus.READY:
                raise SystemExit(f"Training failed: {decoder.error}")
            self.stdout.write(f"  holdout perplexity {decoder.metrics['holdout_perplexity']:.2f}")
            self.stdout.write("Auditing its memorisation (canary exposure, extraction of personal data)…")
            audit = audit_request(actor=engineer, model_version=decoder, dataset_version=notes,
                                  scorer_version=scorer)
            audit.refresh_from_db()
            if audit.status != "complete":
                raise SystemExit(f"Memorisation audit failed: {audit.error}")
        summary = audit.summary
        self.stdout.write(f"  max canary exposure {summary['max_exposure']:.1f} bits; personal data reproduced "
                          f"exactly: {summary['findings_extracted']} of {summary['findings_probed']} findings")

    def _credit_risk(self, *, rows: int) -> None:
        """The other team's data: the hiring engineer and reviewers never see it (nor it theirs)."""
        engineer = User.objects.get(username="credit-engineer")
        self.stdout.write(f"Uploading {rows} rows to the credit-risk project…")
        with override_settings(JOB_DISPATCH="inline"):
            dataset_upload(actor=engineer, name=CREDIT_DATASET,
                           raw=hiring_csv(SyntheticSpec(n_rows=rows, seed=21)).encode(),
                           file_name="credit.csv", text_column="text", label_column="hired",
                           subject_column="subject_id", sensitive_attributes=["gender", "age_band"],
                           description="Synthetic application summaries standing in for credit applications "
                                       "(shows project scoping).", **PERSONAL_DATA)

    def _projects(self) -> None:
        for slug, name, description in PROJECTS:
            if not Project.objects.filter(slug=slug).exists():
                project_create(actor=None, name=name, slug=slug, description=description)

    def _users(self) -> None:
        projects = {p.slug: p for p in Project.objects.all()}
        for username, password, org_roles, memberships in USERS:
            if not User.objects.filter(username=username).exists():
                user_create(username=username, password=password, roles=org_roles,
                            memberships=[(projects[slug], role) for slug, role in memberships])

    def _print_logins(self) -> None:
        self.stdout.write("Logins (user / password / roles):")
        for username, password, org_roles, memberships in USERS:
            held = [f"{role} (organisation-wide)" for role in org_roles]
            held += [f"{role} in {slug}" for slug, role in memberships]
            self.stdout.write(f"  {username:<15} {password:<26} {', '.join(held)}")
