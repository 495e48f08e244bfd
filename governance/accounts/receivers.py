"""Keeps the roles read on a user object current: a change of its groups drops what permissions cached on it
(the roles are read once a request and kept on the user object; a service that changes them in the same
request, or a shell, must not act on the old ones). Memberships are changed by accounts.projects, which does
the same."""

from __future__ import annotations

from governance.permissions import user_roles_forget


def user_groups_changed(sender, instance, action: str, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear") and hasattr(instance, "groups"):
        user_roles_forget(instance)
