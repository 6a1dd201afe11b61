"""Domain errors raised by services, each mapped once to an HTTP status and a message.

The messages are written for the person who acted: they name the complaint's state and
what may be done instead, in the user's language.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext


class DomainError(Exception):
    """Base of every rule a service refuses to break. ``status`` is the HTTP mapping."""

    status = 400
    code = "invalid"

    def __init__(self, message: str | Promise) -> None:
        # A lazy message is translated when shown, in the language of whoever reads it.
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class GuardFailed(DomainError):
    """The transition exists from this state, but a precondition does not hold."""

    status = 400
    code = "guard_failed"


class InvalidTransition(DomainError):
    """The action is not possible from the complaint's current state."""

    status = 409
    code = "invalid_transition"

    def __init__(
        self,
        *,
        state_label: str,
        action_label: str,
        allowed: Sequence[str],
        actions: Sequence[str] = (),
    ) -> None:
        separator = pgettext("list separator", ", ")
        allowed_text = separator.join(str(a) for a in allowed) if allowed else _("none")
        super().__init__(
            str(
                format_lazy(
                    _(
                        "This complaint is “{state}”, so “{action}” is not possible now. "
                        "Allowed now: {allowed}."
                    ),
                    state=state_label,
                    action=action_label,
                    allowed=allowed_text,
                )
            )
        )
        self.state_label = state_label
        self.allowed = list(allowed)
        # The same actions by name (``allowed`` holds their labels), for the API.
        self.actions = list(actions)


class Conflict(DomainError):
    """Someone else changed the complaint since the actor loaded it."""

    status = 409
    code = "conflict"
