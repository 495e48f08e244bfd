# Roles are django.contrib.auth groups (see roles.py); no tables of our own.
