"""Template context for every page: the signed-in user's unread notification count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.services import unread_count


def unread(request: HttpRequest) -> dict[str, Any]:
    """``unread_notifications``, counted only on pages that show it (the console nav)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
