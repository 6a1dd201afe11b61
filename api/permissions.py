"""Who may call which endpoint. What they may do to a complaint is the services' business.

The endpoint-level checks are coarse on purpose: staff endpoints need a member of staff,
channel endpoints a client holding the scope. Roles, departments and states are checked
by ``complaints.permissions`` and the services, exactly as for the console.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import AccessToken
from api.auth import channel_client, is_staff


class ReadOnlyTokens(BasePermission):
    """A read-only personal access token reads, whatever its owner could do."""

    message = gettext_lazy("This token may only read. Make a token with write access for changes.")

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, AccessToken) and not token.can_write:
            return request.method in SAFE_METHODS
        return True


class StaffOnly(BasePermission):
    message = gettext_lazy("Only staff may use this endpoint; channel clients cannot.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_staff(request.user)


class SessionOnly(BasePermission):
    """Managing tokens needs the person, logged in: a token never makes tokens."""

    message = gettext_lazy("Log in to the console to manage tokens; a token cannot manage tokens.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_staff(request.user) and request.auth is None


def staff_or_channel(scope: str) -> type[BasePermission]:
    """Staff, or a channel client that holds ``scope``."""

    class StaffOrChannel(BasePermission):
        @property
        def message(self) -> str:
            return _("This token does not have the scope “%(scope)s”.") % {"scope": scope}

        def has_permission(self, request: Request, view: Any) -> bool:
            if is_staff(request.user):
                return True
            client = channel_client(request)
            return client is not None and client.has_scope(scope)

    StaffOrChannel.__name__ = f"StaffOrChannel_{scope}"
    return StaffOrChannel


def channel_scope(scope: str) -> type[BasePermission]:
    """A channel client that holds ``scope`` (the intake endpoint)."""

    class ChannelScope(BasePermission):
        @property
        def message(self) -> str:
            return _("Authenticate with a channel client token that has the scope “%(scope)s”.") % {
                "scope": scope
            }

        def has_permission(self, request: Request, view: Any) -> bool:
            client = channel_client(request)
            return client is not None and client.has_scope(scope)

    ChannelScope.__name__ = f"ChannelScope_{scope}"
    return ChannelScope
