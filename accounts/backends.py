"""The one authentication backend: Django's ModelBackend behind the login lockout."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts import lockout
from accounts.models import User


class LockoutBackend(ModelBackend):
    """Check the lock before the password; count a failure, or clear them on success.

    As the only entry of AUTHENTICATION_BACKENDS it guards every door that calls
    ``authenticate()``: the console and back-office logins, and any API authentication
    that checks a password. ``get_user`` is ModelBackend's, so an inactive user's session
    no longer authenticates anyone.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        username = str(username)[:150]
        ip = lockout.client_ip(request)
        if lockout.locked_until(username=username, ip=ip) is not None:
            # authenticate() stops at PermissionDenied: no other backend tries, and it
            # answers None (the login forms tell the lock apart by asking again).
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            lockout.record_failure(username=username, ip=ip)
        else:
            lockout.clear_failures(username=username)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        # ModelBackend's async twin checks the password on its own; route it through here.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )
