"""A real OpenID Connect provider (django-oauth-toolkit) in a second Django process, for the SSO tests.

`oidc_provider(tmp_path, redirect_uri=..., users=[...])` starts it (serve.py) on a free port of 127.0.0.1 with
its own SQLite database and RSA key, waits for its discovery document, yields an `OidcProvider` (its endpoints,
the client's credentials, `settings_for_relying_party()`, `groups_set()` to change a user's groups at the
provider between sign-ins) and stops it."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class OidcProvider:
    base_url: str
    client_id: str
    client_secret: str
    database: Path
    log_path: Path

    def settings_for_relying_party(self) -> dict:
        """Our OIDC_* settings for this provider, endpoints as the discovery document lists them."""
        discovery = requests.get(f"{self.base_url}/o/.well-known/openid-configuration", timeout=10).json()
        return {"OIDC_RP_CLIENT_ID": self.client_id, "OIDC_RP_CLIENT_SECRET": self.client_secret,
                "OIDC_OP_AUTHORIZATION_ENDPOINT": discovery["authorization_endpoint"],
                "OIDC_OP_TOKEN_ENDPOINT": discovery["token_endpoint"],
                "OIDC_OP_USER_ENDPOINT": discovery["userinfo_endpoint"],
                "OIDC_OP_JWKS_ENDPOINT": discovery["jwks_uri"], "OIDC_OP_ISSUER": discovery["issuer"],
                "OIDC_RP_SIGN_ALGO": "RS256", "OIDC_PROVIDER_NAME": "Test IdP"}

    def groups_set(self, username: str, groups: list[str]) -> None:
        """Change the user's groups at the provider (its database, as its administrator would)."""
        with sqlite3.connect(self.database) as db:
            (user_id,) = db.execute("SELECT id FROM auth_user WHERE username = ?", (username,)).fetchone()
            db.execute("DELETE FROM auth_user_groups WHERE user_id = ?", (user_id,))
            for name in groups:
                db.execute("INSERT OR IGNORE INTO auth_group (name) VALUES (?)", (name,))
                (group_id,) = db.execute("SELECT id FROM auth_group WHERE name = ?", (name,)).fetchone()
                db.execute("INSERT INTO auth_user_groups (user_id, group_id) VALUES (?, ?)", (user_id, group_id))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def oidc_provider(tmp_path: Path, *, redirect_uri: str, users: list[dict]):
    port, folder = _free_port(), tmp_path / "oidc-provider"
    folder.mkdir()
    seed = folder / "seed.json"
    seed.write_text(json.dumps({"client_id": "governance-dashboard", "client_secret": "provider-test-secret-0123456789",
                                "redirect_uri": redirect_uri, "users": users}))
    log_path = folder / "provider.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.oidc_provider.serve", str(seed), str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    provider = OidcProvider(base_url=f"http://127.0.0.1:{port}", client_id="governance-dashboard",
                            client_secret="provider-test-secret-0123456789", database=seed.with_suffix(".sqlite3"),
                            log_path=log_path)
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError("the OIDC provider exited:\n" + log_path.read_text()[-3000:])
            try:
                if requests.get(f"{provider.base_url}/o/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the OIDC provider did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.3)
        yield provider
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
