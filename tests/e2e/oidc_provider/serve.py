"""Run the test OpenID Connect provider: `python -m tests.e2e.oidc_provider.serve SEED.json PORT`.

Generates its RSA signing key (cryptography), migrates its SQLite database, registers the confidential client and
the users of SEED.json ({"client_id", "client_secret", "redirect_uri", "users": [{"username", "password",
"email", "first_name", "last_name", "groups"}]}), then serves on 127.0.0.1:PORT with threads until killed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def rsa_private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def seed(config: dict) -> None:
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    for entry in config["users"]:
        user = User.objects.create_user(entry["username"], email=entry.get("email", ""),
                                        password=entry["password"], first_name=entry.get("first_name", ""),
                                        last_name=entry.get("last_name", ""))
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in entry.get("groups", [])])
    Application.objects.create(
        name="Model governance dashboard", client_id=config["client_id"], client_secret=config["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=config["redirect_uri"], algorithm=Application.RS256_ALGORITHM, skip_authorization=False)


def main(seed_path: str, port: int) -> None:
    config = json.loads(Path(seed_path).read_text())
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.e2e.oidc_provider.settings"
    os.environ["OIDC_PROVIDER_RSA_KEY"] = rsa_private_key_pem()
    os.environ.setdefault("OIDC_PROVIDER_DB", str(Path(seed_path).with_suffix(".sqlite3")))
    import django
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIRequestHandler, run
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", verbosity=0)
    seed(config)
    print("oidc provider ready", flush=True)
    WSGIRequestHandler.log_message = lambda self, fmt, *args: print(fmt % args, flush=True)
    run("127.0.0.1", port, get_wsgi_application(), threading=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
