"""governance/uploads.py: an upload is judged before its body is read. Requests go through Django's WSGI
handler (every middleware, CSRF checking enforced) with a body that is produced as it is read and counts what the
server took, so "refused early" is measured, not assumed; a live server on a real socket shows the same."""

from __future__ import annotations

import socket
import time

import pytest
from django.test import Client
from django.test.client import ClientHandler

from governance import roles
from governance.datasets.models import Dataset
from tests.factories import hiring_bytes, make_user

MB = 1024 * 1024
CSRF = "A" * 32  # a well-formed CSRF secret: the cookie and the header agree, so CSRF checking passes
BOUNDARY = "----governance-test-boundary"


class CountingBody:
    """wsgi.input: `head`, then filler bytes up to `total`, made as they are read; counts what was read."""

    def __init__(self, head: bytes, total: int):
        self.head, self.total, self.read_bytes = head, total, 0

    def read(self, size: int = -1) -> bytes:
        remaining = self.total - self.read_bytes
        n = remaining if size is None or size < 0 else min(size, remaining)
        start = self.read_bytes
        chunk = self.head[start:start + n]
        chunk += b"a" * (n - len(chunk))
        self.read_bytes += n
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _multipart_head(fields: dict[str, str], file_field: str = "file") -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="big.csv"\r\n'
                 "Content-Type: text/csv\r\n\r\n")
    return "".join(parts).encode() + hiring_bytes(20)


def _post(path: str, total: int, *, cookies: str = "", headers: dict | None = None,
          fields: dict | None = None) -> tuple[int, bytes, CountingBody]:
    body = CountingBody(_multipart_head(fields or {"name": "big", "text_column": "text", "label_column": "hired",
                                                   "subject_column": "subject_id"}), total)
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "REMOTE_ADDR": "198.51.100.7", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": body, "wsgi.errors": None, "CONTENT_LENGTH": str(total),
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "HTTP_COOKIE": f"csrftoken={CSRF}" + (f"; {cookies}" if cookies else ""), "HTTP_X_CSRFTOKEN": CSRF,
        **(headers or {})}
    # Django's WSGI handler as the test client uses it (keeping the test's database connection), CSRF enforced.
    response = ClientHandler(enforce_csrf_checks=True)(environ)
    return response.status_code, response.content, body


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def temp_dir(settings, tmp_path):
    """Where Django would spool an uploaded file: nothing may be left there (or appear, when refused)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # spool early, so a spooled byte would show
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/datasets/upload/", "/api/datasets/", "/models/encoders/",
                                  "/api/pretrained-encoders/"])
def test_an_anonymous_60_mb_upload_is_refused_before_its_body_is_read(path, temp_dir):
    status, _, body = _post(path, 60 * MB)
    assert status in (401, 403)
    assert body.read_bytes == 0  # not one byte of the 60 MB
    assert list(temp_dir.iterdir()) == []


@pytest.mark.django_db
def test_a_user_without_the_uploading_role_is_refused_before_the_body_is_read(temp_dir):
    auditor = make_user(roles.AUDITOR)
    status, _, body = _post("/datasets/upload/", 60 * MB, cookies=_session_cookie(auditor))
    assert status == 403 and body.read_bytes == 0
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=make_user(roles.REVIEWER)).key
    status, _, body = _post("/api/datasets/", 60 * MB, headers={"HTTP_AUTHORIZATION": f"Token {token}"})
    assert status == 403 and body.read_bytes == 0
    assert list(temp_dir.iterdir()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/datasets/upload/", "/api/datasets/"])
def test_a_declared_body_far_over_the_limit_is_refused_unread_at_the_field(path, settings, temp_dir):
    settings.DATASET_UPLOAD_MAX_BYTES = 1 * MB
    engineer = make_user()
    status, content, body = _post(path, 60 * MB, cookies=_session_cookie(engineer))
    assert status == 400 and b"The file is larger than" in content
    assert body.read_bytes == 0 and list(temp_dir.iterdir()) == []
    assert not Dataset.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/datasets/upload/", "/api/datasets/"])
def test_reading_stops_at_the_limit_and_the_spooled_part_is_deleted(path, settings, temp_dir):
    settings.DATASET_UPLOAD_MAX_BYTES = 1 * MB
    engineer = make_user()
    total = 4 * MB  # within limit + the form allowance (5 MB): read until the file passes 1 MB
    status, content, body = _post(path, total, cookies=_session_cookie(engineer))
    assert status == 400 and b"The file is larger than 1 MB" in content
    assert MB <= body.read_bytes < MB + 256 * 1024 < total  # the limit and one chunk, never the rest
    assert list(temp_dir.iterdir()) == []
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_a_file_where_none_is_expected_is_not_read(temp_dir):
    engineer = make_user()
    status, _, body = _post("/audits/new/", 10 * MB, cookies=_session_cookie(engineer), fields={"x": "y"})
    assert body.read_bytes < 128 * 1024 and list(temp_dir.iterdir()) == []
    assert status in (200, 400)


@pytest.mark.django_db(transaction=True)
def test_on_a_real_socket_an_anonymous_upload_is_answered_before_the_body_is_sent(live_server):
    """A raw client announces 60 MB, sends the headers and 64 KB, then waits: the server answers 403 at once
    (it never waits for the other 59.9 MB, which are never sent)."""
    host, port = live_server.thread.host, live_server.thread.port
    head = _multipart_head({"name": "big"})
    request = (f"POST /datasets/upload/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: {60 * MB}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nCookie: csrftoken={CSRF}\r\n"
               f"X-CSRFToken: {CSRF}\r\nConnection: close\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=20) as sock:
        sock.sendall(request + head.ljust(64 * 1024, b"a"))
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert time.monotonic() - started < 10
