from __future__ import annotations

import pytest

from governance.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, REVIEWER
from tests.factories import make_user


@pytest.fixture
def officer(db):
    return make_user(COMPLIANCE_OFFICER)


@pytest.fixture
def reviewers(db):
    return [make_user(REVIEWER) for _ in range(3)]


@pytest.fixture
def auditor(db):
    return make_user(AUDITOR)


@pytest.fixture
def admin_user(db):
    return make_user(ADMIN)


@pytest.fixture
def permissive_staging(officer):
    """A staging policy with every gate off (one approval), for tests about something else."""
    from governance.approvals.services import deployment_policy_update

    return deployment_policy_update(actor=officer, environment="staging", required_approvals=1,
                                    max_audit_age_days=None, require_explanations=False,
                                    require_dpia_for_personal_data=False, require_lawful_basis=False)
