"""Signals accounts sends to the apps above it (connected in their apps.py ready(); accounts imports none).

`oidc_memberships_claimed(sender, user, memberships)` — sent at every single sign-on (accounts.oidc), after the
user's org-wide roles were synced, inside the sign-in's transaction. `memberships` is the complete list of
(project_slug, role) pairs the provider's groups claim grants now ("governance:project:<slug>:<role>"), sorted,
possibly empty: a receiver makes the user's project memberships equal to it (adds the new ones, removes those no
longer granted, logs each change with audit_log_append) and ignores slugs of projects that do not exist.
`role` is one of roles.ALL_ROLES.
"""

from django.dispatch import Signal

oidc_memberships_claimed = Signal()
