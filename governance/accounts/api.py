from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.login_throttle import BLOCKED_MESSAGE, login_blocked, login_failed, login_succeeded


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class TokenObtainApi(APIView):
    """Exchange a username and password for the user's API token (`Authorization: Token <key>`).

    Failed attempts count towards the same log-in throttle as the HTML form."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenOutput}, auth=[])
    def post(self, request):
        username = str(request.data.get("username", ""))
        if login_blocked(request, username):
            return Response({"non_field_errors": [BLOCKED_MESSAGE]}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            login_failed(request, username)
            return Response(data.errors, status=status.HTTP_400_BAD_REQUEST)
        login_succeeded(request, username)
        token, _ = Token.objects.get_or_create(user=data.validated_data["user"])
        return Response({"token": token.key})
