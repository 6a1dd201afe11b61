"""``/api/v1/tokens/``: the caller's own personal access tokens.

Only a person logged in to the console manages tokens (``SessionOnly``): a token never
makes, reads or revokes tokens, so a leaked token cannot make itself a successor. CSRF
applies, as to every session call that writes. A new token is answered once, in
``token``; afterwards only its first characters (``token_hint``) are ever shown.
Revoking keeps the row: what the token did stays attributed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import tokens
from accounts.models import AccessToken, User
from api.permissions import SessionOnly
from api.serializers import validated


class TokenOut(serializers.Serializer[AccessToken]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    scope = serializers.ChoiceField(choices=AccessToken.Scope.choices)
    token_hint = serializers.CharField(help_text="The token's first characters, to tell it apart.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField(
        help_text="The token authenticates: in use, not revoked, not expired."
    )

    def get_active(self, token: AccessToken) -> bool:
        return tokens.usable(token)


class NewTokenOut(TokenOut):
    token = serializers.CharField(
        help_text="The token itself, shown only in this answer: store it now."
    )


class TokenInput(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=100, help_text="What the token is for.")
    scope = serializers.ChoiceField(
        choices=AccessToken.Scope.choices, default=AccessToken.Scope.READ
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it stops working: in the future, at most `API_TOKEN_MAX_DAYS` "
        "(365 by default) days ahead. Leave out for a token that does not expire.",
    )

    def validate_expires_at(self, value: Any) -> Any:
        try:
            tokens.check_expiry(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict["expires_at"]) from error
        return value


def own_tokens(request: Request) -> QuerySet[AccessToken]:
    # SessionOnly let only a member of staff in.
    owner: User = request.user  # type: ignore[assignment]
    return AccessToken.objects.filter(user=owner)


class TokenList(generics.ListCreateAPIView):
    """Your tokens, newest first, revoked and expired ones included."""

    # SessionOnly first: its refusal says why, whatever the token may do otherwise.
    permission_classes = [SessionOnly, *APIView.permission_classes]
    serializer_class = TokenOut

    def get_queryset(self) -> QuerySet[AccessToken]:
        return own_tokens(self.request)

    @extend_schema(
        operation_id="tokens_list",
        summary="List your personal access tokens",
        tags=["tokens"],
        responses={200: TokenOut(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="tokens_create",
        summary="Make a personal access token (shown once)",
        tags=["tokens"],
        request=TokenInput,
        responses={201: NewTokenOut},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(TokenInput, request)
        owner: User = request.user  # type: ignore[assignment]
        try:
            token, raw = tokens.issue(
                user=owner, name=data["name"], scope=data["scope"], expires_at=data["expires_at"]
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        body = {**TokenOut(token).data, "token": raw}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenDetail(APIView):
    # SessionOnly first: its refusal says why, whatever the token may do otherwise.
    permission_classes = [SessionOnly, *APIView.permission_classes]

    @extend_schema(
        operation_id="tokens_read",
        summary="Read one of your personal access tokens",
        tags=["tokens"],
        responses={200: TokenOut},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(TokenOut(get_object_or_404(own_tokens(request), pk=pk)).data)

    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke one of your personal access tokens",
        tags=["tokens"],
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        token = get_object_or_404(own_tokens(request), pk=pk)
        tokens.revoke(token, by=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
