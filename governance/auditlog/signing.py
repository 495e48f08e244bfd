"""The Ed25519 key that signs audit-log checkpoints.

Where the key comes from, first match wins:
1. `AUDIT_SIGNING_KEY`: the 32-byte private seed as 64 hex characters (production: from a secret store);
2. the file `AUDIT_SIGNING_KEY_FILE` (default `VAR_DIR/keys/audit-log-ed25519.key`, hex seed, mode 0600),
   generated on first use — created atomically, so parallel processes end up with one key. Not in
   production: its settings refuse to start without AUDIT_SIGNING_KEY and set no key file, because machines
   that each generate a key would sign with keys nobody pinned.
The same key seals each entry as it is appended (`seal`: the signature of the entry's hash).
The public key travels with every checkpoint; auditors pin it (`tools/verify_audit_log.py --public-key`).
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.auditlog.chain import seal_message


def _seed_from_hex(text: str, source: str) -> bytes:
    try:
        seed = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{source} is not hex.") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured(f"{source} must hold a 32-byte Ed25519 seed (64 hex characters).")
    return seed


def _key_file_seed(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = os.urandom(32)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            os.write(fd, seed.hex().encode())
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created the key first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return _seed_from_hex(path.read_text(), str(path))


@lru_cache(maxsize=4)
def _private_key(env_seed: str, key_file: str) -> Ed25519PrivateKey:
    if not env_seed and not key_file:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY is not set (and no AUDIT_SIGNING_KEY_FILE is allowed here).")
    seed = _seed_from_hex(env_seed, "AUDIT_SIGNING_KEY") if env_seed else _key_file_seed(Path(key_file))
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    key_file = settings.AUDIT_SIGNING_KEY_FILE
    return _private_key(os.environ.get("AUDIT_SIGNING_KEY", ""), str(key_file) if key_file else "")


def public_key_hex() -> str:
    return signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign(message: bytes) -> str:
    return signing_key().sign(message).hex()


def signature_valid(*, message: bytes, signature_hex: str, public_key: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def seal(entry_hash_hex: str) -> str:
    """An entry's seal: the signature of its hash (chain.seal_message)."""
    return sign(seal_message(entry_hash_hex))


def seal_valid(*, entry_hash_hex: str, seal_hex: str, public_key: str) -> bool:
    return bool(seal_hex) and signature_valid(message=seal_message(entry_hash_hex), signature_hex=seal_hex,
                                              public_key=public_key)
