"""Throttling per caller: each channel client, token and member of staff has a budget.

Counts live in the shared cache (Redis in production), in fixed one-minute windows, so
every web process counts the same calls. A channel client may have a limit of its own
(``ChannelClient.rate_limit``); the defaults are settings (``API_RATE_*``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.lockout import client_ip
from accounts.models import AccessToken
from api.auth import channel_client
from intake import ratelimit

WINDOW = 60


class PerCaller(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        subject, limit = self._budget(request)
        if limit <= 0:
            return True  # 0 turns throttling off (a deployment's choice)
        return ratelimit.hit("api", subject, limit=limit, window=WINDOW)

    def wait(self) -> float:
        return ratelimit.window_left(WINDOW)

    @staticmethod
    def _budget(request: Request) -> tuple[str, int]:
        client = channel_client(request)
        if client is not None:
            return f"client:{client.pk}", client.rate_limit or settings.API_RATE_CLIENT
        if isinstance(request.auth, AccessToken):
            return f"token:{request.auth.pk}", settings.API_RATE_STAFF
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}", settings.API_RATE_STAFF
        return f"ip:{client_ip(request) or 'unknown'}", settings.API_RATE_ANONYMOUS
