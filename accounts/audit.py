"""The audit log of acts outside a complaint's timeline (``accounts.models.AuditEntry``).

``record`` is called by the place where the act happens — a permission check that
refuses, an export that is handed out, a look-up by phone number — with a dotted action
name and what it concerned. It writes one row at once; it never raises for a bad
``detail`` (values that JSON cannot hold are written as text), because an audit write
must not turn a refusal into a server error.

Below ``record`` is one helper per kind of act, called where the act happens, so each
kind is written the same way everywhere (a complaint's own acts are ``complaints.Event``
rows instead, on its timeline):

=========================  ==============================================================
``personal_data.searched``  a look-up of petitioners by phone, e-mail or ID number (API,
                            console registration): which kind of value, never the value
``admin.viewed``            a back-office page of a record holding personal data
``admin.listed``            a back-office list showing personal data in full
``admin.changed``           a back-office edit of one: the fields, never their values
``export.downloaded``       a complaint list export handed out (it names petitioners)
``token.created``           a personal access token made (never the token)
``token.revoked``           one revoked
``login.succeeded``         a staff login (console, back-office)
``login.failed``            a refused login; the username only when it is a real user
``login.locked``            failed logins locked a username or an address
``logout``                  a staff logout
``attachment.downloaded``   a complaint's file handed out (console or API)
=========================  ==============================================================
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.lockout import client_ip
from accounts.models import AccessToken, AuditEntry, Credential, User


def record(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    target: str = "",
    ip: str | None = None,
    **detail: Any,
) -> AuditEntry:
    """Write one audit entry. ``actor`` defaults to the request's authenticated user, and
    ``ip`` to the request's client address (given, for an act known without a request).

    An act through the API notes the token it used (its id: a token stands for a script,
    and a leaked one is found by what it did).
    """
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if isinstance(user, User) and user.is_authenticated else None
    credential = getattr(request, "auth", None)
    if isinstance(credential, Credential) and "token" not in detail:
        detail["token"] = f"{credential._meta.model_name}:{credential.pk}"
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        target=target[:255],
        ip=client_ip(request) if request is not None else ip,
        detail={key: _plain(value) for key, value in detail.items()},
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)


# --- One helper per kind of act ---------------------------------------------------------


def personal_data_searched(request: HttpRequest, *, field: str, via: str) -> AuditEntry:
    """Someone looked for petitioners by ``field`` (phone, email, id_number).

    The answer is masked, but it tells whether that person complained: the search itself
    is the act on record. The value searched for is never written.
    """
    return record(
        "personal_data.searched",
        request=request,
        target=f"petitioners:{field}",
        field=field,
        via=via,
    )


def admin_viewed(request: HttpRequest, obj: Any, *, fields: list[str]) -> AuditEntry:
    """A back-office page of ``obj`` was opened, showing ``fields`` (names only)."""
    return record("admin.viewed", request=request, target=_target(obj), fields=fields)


def admin_listed(
    request: HttpRequest, model: Any, *, fields: list[str], searched: bool
) -> AuditEntry:
    """A back-office list of ``model`` showing ``fields`` in full; ``searched``: filtered by
    a search term (which may be a phone number: it is not written)."""
    return record(
        "admin.listed",
        request=request,
        target=f"{model._meta.app_label}.{model._meta.model_name}:list",
        fields=fields,
        searched=searched,
    )


def admin_changed(request: HttpRequest, obj: Any, *, fields: list[str]) -> AuditEntry:
    """``obj`` was changed in the back-office: which fields, never what they hold."""
    return record("admin.changed", request=request, target=_target(obj), fields=fields)


def export_downloaded(
    request: HttpRequest, *, export_id: int, kind: str, personal_data: bool, rows: int | None
) -> AuditEntry:
    """An export file was handed out; ``personal_data``: with petitioners unmasked."""
    return record(
        "export.downloaded",
        request=request,
        target=f"export:{export_id}",
        kind=kind,
        personal_data=personal_data,
        rows=rows,
    )


def token_created(token: AccessToken, *, by: User | None = None) -> AuditEntry:
    """A personal access token was made for ``token.user`` (by them, or an administrator)."""
    return record(
        "token.created",
        actor=by or token.user,
        target=f"user:{token.user.get_username()}",
        token=f"accesstoken:{token.pk}",
        scope=token.scope,
        expires_at=token.expires_at.isoformat() if token.expires_at else None,
    )


def token_revoked(token: AccessToken, *, by: User) -> AuditEntry:
    return record(
        "token.revoked",
        actor=by,
        target=f"user:{token.user.get_username()}",
        token=f"accesstoken:{token.pk}",
    )


def login_locked(*, username: str, ip: str | None, until: Any, by: str) -> AuditEntry:
    """Failed logins locked a username (``by="username"``) or an address (``"address"``)."""
    return record(
        "login.locked",
        target=_user_target(username) if by == "username" else f"ip:{ip or '-'}",
        locked_by=by,
        until=until.isoformat(),
        ip=ip,
    )


def _target(obj: Any) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}:{obj.pk}"


def _user_target(username: str) -> str:
    # What was typed as a username may be a mistyped password or someone's phone number:
    # it is written only when it names a real user.
    known = User.objects.filter(**{User.USERNAME_FIELD: username}).exists()
    return f"user:{username}" if known else "user:(unknown)"


# Receivers of django.contrib.auth's signals (connected in accounts.apps).


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    record("login.succeeded", request=request, actor=user, target=f"user:{user.get_username()}")


def on_logged_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    if user is None or not user.is_authenticated:
        return  # a visitor who was not logged in: nothing ended, nothing to record
    record("logout", request=request, actor=user, target=f"user:{user.get_username()}")


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")
    record("login.failed", request=request, target=_user_target(username[:150]))
