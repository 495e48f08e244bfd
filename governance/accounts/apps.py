from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "governance.accounts"
    label = "accounts"
    verbose_name = "Accounts, roles and projects"

    def ready(self) -> None:
        from django.contrib.auth.models import User
        from django.db.models.signals import m2m_changed

        from governance import permissions
        from governance.accounts import predicates  # noqa: F401  (registers the object permissions)
        from governance.accounts.projects import membership_roles, sso_memberships_receive
        from governance.accounts.receivers import user_groups_changed
        from governance.accounts.signals import oidc_memberships_claimed

        permissions.project_roles.register(membership_roles)
        m2m_changed.connect(user_groups_changed, sender=User.groups.through,
                            dispatch_uid="accounts.user_groups_changed")
        # Single sign-on: the provider's project claims set the user's memberships (accounts.projects).
        oidc_memberships_claimed.connect(sso_memberships_receive, dispatch_uid="accounts.memberships_from_sso")
