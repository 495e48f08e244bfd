"""File uploads judged before their bytes are read: who may upload, and how much is ever read.

`UploadGuard` is the first of FILE_UPLOAD_HANDLERS, so Django consults it before parsing any multipart body
(whether the view, CSRF checking or DRF asks for request.POST / request.data first):
- a view that takes files says so with `upload_policy` (`@accepts_uploads(...)` on a function view, the class
  attribute on a DRF view): the roles that may upload, the setting holding the size limit, the file field;
- before one byte of the body is read, an anonymous user or one without those roles gets a 403 (the token of
  an `Authorization: Token` header counts, as in the API); a Content-Length over the limit plus the form's
  own allowance is refused unread;
- while reading, a file that grows past the limit stops the upload there (StopUpload, the rest of the body is
  never read, the part already spooled is deleted), and the view answers 400 at the field
  (`upload_refusals(request)`);
- a view without a policy takes no files: the first file part stops the upload, unread.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from governance.permissions import user_has_role


@dataclass(frozen=True)
class UploadPolicy:
    roles: tuple[str, ...]
    max_bytes_setting: str  # the name of the setting with the limit, read per request (tests change it)
    field: str

    @property
    def max_bytes(self) -> int:
        return int(getattr(settings, self.max_bytes_setting))


def accepts_uploads(*, roles: tuple[str, ...], max_bytes_setting: str, field: str):
    """Function-view decorator: the view takes a file in `field` from users with `roles`, up to the limit."""

    def decorator(view):
        view.upload_policy = UploadPolicy(roles=tuple(roles), max_bytes_setting=max_bytes_setting, field=field)
        return view

    return decorator


def _policy(request) -> UploadPolicy | None:
    match = getattr(request, "resolver_match", None)
    view = getattr(match, "func", None)
    if view is None:
        return None
    return (getattr(view, "upload_policy", None)
            or getattr(getattr(view, "view_class", None), "upload_policy", None)
            or getattr(getattr(view, "cls", None), "upload_policy", None))


def _uploader(request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.exceptions import AuthenticationFailed

    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def _refuse(request, field: str, message: str) -> None:
    refusals = getattr(request, "_upload_refusals", None)
    if refusals is None:
        refusals = request._upload_refusals = {}
    refusals.setdefault(field, message)


def upload_refusals(request) -> dict[str, str]:
    """{field: message} for the files UploadGuard refused in this request (parses the body if not yet)."""
    django_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    if request.method == "POST":  # the parse (DRF's or Django's, whichever the view uses) fills the refusals
        request.data if django_request is not request else request.POST  # noqa: B018
    return dict(getattr(django_request, "_upload_refusals", {}))


def too_large_message(limit: int) -> str:
    return f"The file is larger than {limit // (1024 * 1024)} MB (at most {limit} bytes)."


class UploadGuard(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.policy = _policy(self.request)
        self.seen_file = False
        if self.policy is None:
            return None
        user = _uploader(self.request)
        if user is None or not user_has_role(user, *self.policy.roles):
            # An empty body from now on: the 403 page (its CSRF token check reads request.POST) parses nothing.
            self.request._post, self.request._files = QueryDict(encoding=encoding), MultiValueDict()
            raise PermissionDenied(f"Uploading here needs one of the roles: {', '.join(self.policy.roles)}.")
        limit = self.policy.max_bytes
        if content_length and content_length > limit + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
            _refuse(self.request, self.policy.field, too_large_message(limit))
            return QueryDict(encoding=encoding), MultiValueDict()  # nothing of the body is read
        return None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        if self.policy is None or field_name != self.policy.field or self.seen_file:
            # No file expected here (or a second one): stop, unread.
            _refuse(self.request, field_name, "No file is expected in this field.")
            raise StopUpload(connection_reset=True)
        self.seen_file = True
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.policy.max_bytes:
            _refuse(self.request, self.policy.field, too_large_message(self.policy.max_bytes))
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file
