"""Personal access tokens, made and revoked by their owners: console, API and command alike.

A token is made by the person it acts for (``create_access_token`` is the administrator's
way to make one for a user); administrators revoke anyone's in the back-office. The raw
token is returned once and never stored (``accounts.models.Credential``). Each creation
and revocation is in the audit log (``accounts.audit``), without the token.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import AccessToken, User

logger = logging.getLogger(__name__)


def latest_expiry(now: datetime | None = None) -> datetime:
    """The furthest a new token's expiry may be: ``API_TOKEN_MAX_DAYS`` from now."""
    return (now or timezone.now()) + timedelta(days=settings.API_TOKEN_MAX_DAYS)


def check_expiry(expires_at: datetime | None, now: datetime | None = None) -> None:
    """Refuse an expiry in the past or beyond ``API_TOKEN_MAX_DAYS``; none is allowed."""
    if expires_at is None:
        return
    now = now or timezone.now()
    if expires_at <= now:
        raise ValidationError(
            {"expires_at": _("The expiry must be in the future.")}, code="expiry_past"
        )
    if expires_at > latest_expiry(now):
        raise ValidationError(
            {
                "expires_at": _("A token may last at most %(days)d days.")
                % {"days": settings.API_TOKEN_MAX_DAYS}
            },
            code="expiry_too_far",
        )


def usable(token: AccessToken) -> bool:
    """In use and not expired: the token authenticates."""
    return token.is_active and not token.has_expired()


def issue(
    *,
    user: User,
    name: str,
    scope: str,
    expires_at: datetime | None,
    by: User | None = None,
) -> tuple[AccessToken, str]:
    """Make a token for ``user``; the raw token is returned once, only its hash is kept.

    ``by``: who made it, when not ``user`` themselves (an administrator's command). The
    audit log gets ``token.created``.

    Raises ValidationError (keyed by field) for a blank or taken name or a bad expiry.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name.")}, code="required")
    if scope not in AccessToken.Scope.values:
        raise ValidationError({"scope": _("Choose read or read and write.")}, code="invalid")
    check_expiry(expires_at)
    taken = ValidationError(
        {"name": _("You have a token in use with this name already; choose another name.")},
        code="unique",
    )
    if AccessToken.objects.filter(user=user, name=name, is_active=True).exists():
        raise taken
    try:
        with transaction.atomic():
            token, raw = AccessToken.create_with_token(
                user=user, name=name, scope=scope, expires_at=expires_at
            )
    except IntegrityError as error:  # made at the same moment by a second request
        raise taken from error
    logger.info(
        "Access token %s (%s) made for user %s, expires %s",
        token.pk,
        scope,
        user.pk,
        expires_at.isoformat() if expires_at else "never",
    )
    audit.token_created(token, by=by)
    return token, raw


def revoke(token: AccessToken, *, by: User) -> bool:
    """Revoke ``token`` (never delete it: what it did stays attributed). False if it was."""
    if not token.is_active:
        return False
    token.revoke()
    audit.token_revoked(token, by=by)
    logger.info("Access token %s of user %s revoked by user %s", token.pk, token.user_id, by.pk)
    return True
