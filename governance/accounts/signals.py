"""Signals accounts sends to the apps above it (connected in their apps.py ready(); accounts imports none).

`oidc_memberships_claimed(sender, user, memberships)` — sent at every single sign-on (accounts.oidc), after the
user's org-wide roles were synced, in the same transaction (an error in a receiver undoes the roles' sync too).
`memberships` is the complete list of (project_slug, role) pairs the provider's groups claim grants now
("governance:project:<slug>:<role>"), sorted, possibly empty: a receiver makes the user's project memberships equal
to it (adds the new ones, removes those no longer granted, logs each change with audit_log_append) and ignores slugs
of projects that do not exist. `role` is one of roles.ALL_ROLES.

Connect it, e.g. in the projects app's apps.py ready():
    from governance.accounts.signals import oidc_memberships_claimed
    oidc_memberships_claimed.connect(receivers.memberships_sync_from_sso)
"""

from django.dispatch import Signal

oidc_memberships_claimed = Signal()
