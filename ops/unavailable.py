"""A database that cannot be reached is a 503 with ``Retry-After``, never a 500 page.

When PostgreSQL is down, restarting or failing over, every request that touches it fails
with ``OperationalError`` (cannot connect, connection reset) or ``InterfaceError`` (the
connection was already closed). Nothing was stored — a request's work is one transaction,
and a transaction that cannot commit is rolled back — so the honest answer is "not now,
try again shortly": 503 with ``Retry-After``, in the caller's language and format (the
API's error body, Open311's error list, an HTML page for people). A channel retrying with
its ``Idempotency-Key`` then gets exactly one complaint whatever happened.

This is Django's ``handler500`` (config/urls.py), so it also catches errors raised by
middleware (a session saved after the view), not only by views. It runs while the
database is gone: it must not touch it — no request context processors (they read the
user and their notifications), only a plain template. Any other error keeps Django's own
500 handling. The broken connection is closed by Django at the end of the request
(``CONN_HEALTH_CHECKS``), so the same process serves again as soon as the database is back.
"""

from __future__ import annotations

import sys

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error

from ops.answers import error_response
from ops.retry import TRANSIENT_ERRORS

# Seconds a client is asked to wait: long enough for a restart or a fail-over to finish,
# short enough that a channel's retry queue does not stall.
RETRY_AFTER_SECONDS = 30


def database_unavailable(error: BaseException | None) -> bool:
    """Is ``error`` (or what it was raised from) "the database is not there right now"?

    Only the explicit cause is followed: an unrelated bug in code that was handling a
    database error must stay a 500 that someone looks at.
    """
    for _hop in range(10):
        if error is None:
            return False
        if isinstance(error, TRANSIENT_ERRORS):
            return True
        error = error.__cause__
    return False


def session_lost_with_database(error: BaseException | None) -> bool:
    """Is ``error`` Django's 400 for a session it could not save because the database went?

    Saving an existing session that fails with a database error becomes ``UpdateError``,
    which the session middleware turns into ``SessionInterrupted`` (a 400, "bad request")
    — both raised while handling the error before, not from it. The request was fine; the
    database was not there: that is a 503 like any other (``config.limits.bad_request``).
    """
    if not isinstance(error, SessionInterrupted):
        return False
    update = error.__context__
    return isinstance(update, UpdateError) and database_unavailable(update.__context__)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 in the format the caller reads: the API's, Open311's, or an HTML page."""
    message = _("The service is briefly unavailable. Please try again in a moment.")
    page = render_to_string("503.html", {"message": message, "retry_after": RETRY_AFTER_SECONDS})
    response = error_response(request, 503, "unavailable", message, page=page)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """``handler500``: 503 when the database is unreachable, else Django's 500."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    return django_server_error(request, template_name)
