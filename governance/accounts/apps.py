from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "governance.accounts"
    label = "accounts"
    verbose_name = "Accounts, roles and projects"

    def ready(self) -> None:
        from governance import permissions
        from governance.accounts import predicates  # noqa: F401  (registers the object permissions)
        from governance.accounts.projects import membership_roles

        permissions.project_roles.register(membership_roles)
