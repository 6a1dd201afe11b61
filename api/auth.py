"""Who is calling: a staff session, a personal access token or a channel client's token.

Tokens come in the ``Authorization`` header only (``Token …`` or ``Bearer …``). A token in
the address is refused outright, not ignored: addresses end up in proxy logs and browser
history, and the caller should learn that at once. (Open311 is the one exception, because
its specification puts ``api_key`` in the request; it has views of its own.)

Every kind of token is a ``accounts.models.Credential`` subclass with a prefix of its own,
so one class finds the right table without importing the apps that define them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.request import Request

from accounts import audit
from accounts.lockout import client_ip  # a valid address or None: it is stored as one
from accounts.models import AccessToken, Credential, User
from intake import ratelimit

KEYWORDS = (b"token", b"bearer")
# Names under which callers tend to put a token into the address.
QUERY_NAMES = ("token", "access_token", "api_key", "apikey", "auth_token", "key")


class TokenInAddress(exceptions.AuthenticationFailed):
    """401 like any unusable credential (issue 11), with a code of its own so the caller
    learns why and revokes a token that has now been in logs."""

    default_code = "token_in_query"
    default_detail = gettext_lazy(
        "Send the token in the Authorization header (“Authorization: Token …”), never in the "
        "address: addresses are kept in logs. Revoke this token and make a new one."
    )


def credential_types() -> list[type[Credential]]:
    """Every concrete credential model (personal access tokens, channel clients, …)."""
    found: list[type[Credential]] = []
    pending = list(Credential.__subclasses__())
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if not kind._meta.abstract:
            found.append(kind)
    return found


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Token <token>`` (or ``Bearer``) for any kind of Sutong token.

    ``request.user`` is the staff user for a personal access token (``request.auth`` the
    token), or the channel client itself for a channel token (``request.auth`` too).
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Credential] | None:
        if any(name in request.query_params for name in QUERY_NAMES):
            raise TokenInAddress()
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the header as “Authorization: Token …”, with the token after one space.")
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(_("This token is not valid.")) from error
        address = client_ip(request) or "unknown"
        _refuse_an_address_that_guesses(address)
        credential = self._find(raw)
        if credential is None:
            _count_failure(request, address)
            raise exceptions.AuthenticationFailed(
                _("This token is not valid: it is unknown, expired or revoked.")
            )
        credential.note_use(client_ip(request))
        if isinstance(credential, AccessToken):
            user: User = credential.user
            if not user.is_active:
                raise exceptions.AuthenticationFailed(_("The owner of this token cannot log in."))
            return user, credential
        return credential, credential

    @staticmethod
    def _find(raw: str) -> Credential | None:
        for kind in credential_types():
            if raw.startswith(kind.PREFIX):
                return kind.authenticate(raw)
        return None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


# Failed token attempts per address. Tokens are 256-bit random, so guessing one is hopeless;
# the budget stops the noise (and a scanner's traffic) early, and tells someone: the first
# time an address runs out in a window, ``api.token_guessing_suspected`` is audited.
# A generous budget: a script still using a revoked token gets 401s well before it.
FAILURE_SCOPE = "api-token-failures"


def _refuse_an_address_that_guesses(address: str) -> None:
    limit, window = settings.API_TOKEN_FAILURES, settings.API_TOKEN_FAILURE_WINDOW
    if limit and ratelimit.exceeded(FAILURE_SCOPE, address, limit=limit, window=window):
        raise exceptions.Throttled(
            wait=ratelimit.window_left(window),
            detail=_("Too many invalid tokens from this address. Try again later."),
        )


def _count_failure(request: Request, address: str) -> None:
    limit, window = settings.API_TOKEN_FAILURES, settings.API_TOKEN_FAILURE_WINDOW
    if limit and ratelimit.count(FAILURE_SCOPE, address, window=window) == limit:
        # The Django request: asking DRF's for its user here would authenticate again.
        audit.record("api.token_guessing_suspected", request=request._request, failures=limit)


class StaffSessionAuthentication(SessionAuthentication):
    """The console's login, for scripts in the browser and the interactive docs; CSRF
    checked on writes, as in the console."""


def is_staff(user: Any) -> bool:
    return isinstance(user, User) and user.is_active


def channel_client(request: Request) -> Any:
    """The channel client calling, or None (staff, anonymous)."""
    from intake.models import ChannelClient

    return request.user if isinstance(request.user, ChannelClient) else None
