"""`Authorization: Bearer gst_…`: a service token (governance/serving/tokens.py) authenticates a machine
client of the serving endpoint and of the outcomes endpoint. `request.auth` is the ServiceToken row (revoked
ones too: the service refuses them with the reason); `request.user` stays anonymous."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from governance.serving.tokens import service_token_find

KEYWORD = "Bearer"


class ServiceTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1") != KEYWORD:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give one service token after 'Bearer'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid service token.") from None
        token = service_token_find(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid service token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This service token was revoked.")
        return AnonymousUser(), token

    def authenticate_header(self, request) -> str:
        return KEYWORD


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.serving.authentication.ServiceTokenAuthentication"
    name = "serviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A service token (gst_…) scoped to one model and environment."}
