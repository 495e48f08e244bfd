from governance import roles as role_names
from governance.accounts.selectors import user_group_names
from governance.permissions import READ_ROLES, user_has_role


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"can": {}, "user_groups": []}
    return {
        "user_groups": user_group_names(user),
        "can": {
            "engineer": user_has_role(user, role_names.ML_ENGINEER),
            "review": user_has_role(user, role_names.REVIEWER),
            "compliance": user_has_role(user, role_names.COMPLIANCE_OFFICER),
            # the audit log spans every project: organisation-wide readers only (auditlog.selectors)
            "audit_log": user_has_role(user, *READ_ROLES, org_wide=True),
        }
    }
