"""Application logs without secrets or personal data: one filter, on every log handler.

Logs travel further than the database (files, a log shipper, a support ticket), so what
they say must not let anyone in or identify a petitioner. ``RedactFilter`` rewrites each
record's final message — the format string with its arguments already merged — and its
traceback text, replacing:

* Sutong tokens (``stp_…``, ``stc_…``, any ``st_…``; ``accounts.models.Credential``) and
  webhook secrets (``whsec_…``): only the prefix is kept;
* ``Authorization`` header values and ``Token``/``Bearer`` credentials;
* the secret of a private tracking link (``/track/<code>/<secret>/``) and of a survey
  link (``/survey/<token>/``): ``django.request`` logs the path of every 4xx/5xx answer,
  and gunicorn's access log every path (``GunicornLogger`` below);
* password and secret values in form data, query strings, dicts and JSON;
* Chinese mobile numbers, 18-character ID numbers and e-mail addresses, masked with the
  very masks the console uses (``complaints.privacy``), so a log line reads like a masked
  petitioner card: ``138****5678``, ``110101********1234``, ``z******@example.com``.

It is installed on the handlers in ``config/settings.py`` (``LOGGING``) and changes the
record in place, so every handler after it sees the masked text too. It never drops a
record: a log line without its secrets is still needed.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

HIDDEN = "********"

_TOKEN = re.compile(r"\b(st[a-z]?_|whsec_)[A-Za-z0-9_\-]{16,}")
_AUTHORIZATION = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(?:(token|bearer|basic)\s+)?[^\s'\",;}&]+"
)
_CREDENTIAL = re.compile(r"(?i)\b(token|bearer)(\s+)[A-Za-z0-9._~+/=\-]{16,}")
# /track/<code>/<secret>/ — but not the public pages under a code (survey/, data/, …).
_TRACKING_LINK = re.compile(
    r"(/track/[^/\s?#'\"]+/)(?!(?:survey|withdraw|data)(?:[/.\s?#'\"]|$))[^/\s?#'\"]+"
)
_SURVEY_LINK = re.compile(r"(/survey/)[^/\s?#'\"]+")
_SECRET_NAME = r"\w*(?:password|passwd|secret)\w*"  # noqa: S105 - field names
# password=… in a query string or form body.
_SECRET_FORM = re.compile(rf"(?i)\b({_SECRET_NAME}=)[^&\s'\"]+")
# 'password': 'x', "password": ["x"], <QueryDict: {'password': ['x']}>.
_SECRET_MAPPING = re.compile(rf"(?i)(['\"]{_SECRET_NAME}['\"]\s*:\s*\[?\s*['\"])(?:[^'\"\\]|\\.)*")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# 13812345678, +86 138 1234 5678, 0086-138-1234-5678, 8613812345678.
_MOBILE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?![0-9])")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _masks() -> tuple[Callable[[str], str], Callable[[str], str], Callable[[str], str]]:
    """The console's masks, once the app registry is loaded (``complaints.privacy`` imports
    models); before that — at start-up — a value is hidden as a whole."""
    from django.apps import apps

    if apps.models_ready:
        from complaints.privacy import mask_email, mask_id_number, mask_phone

        return mask_phone, mask_email, mask_id_number
    return (lambda _value: HIDDEN,) * 3


def redact(text: str) -> str:
    """``text`` with secrets hidden and personal data masked; unchanged if it held none."""
    if not text:
        return text
    mask_phone, mask_email, mask_id_number = _masks()
    text = _TOKEN.sub(lambda m: m.group(1) + HIDDEN, text)
    text = _AUTHORIZATION.sub(
        lambda m: m.group(1) + (f"{m.group(2)} " if m.group(2) else "") + HIDDEN, text
    )
    text = _CREDENTIAL.sub(lambda m: m.group(1) + m.group(2) + HIDDEN, text)
    text = _TRACKING_LINK.sub(lambda m: m.group(1) + HIDDEN, text)
    text = _SURVEY_LINK.sub(lambda m: m.group(1) + HIDDEN, text)
    text = _SECRET_FORM.sub(lambda m: m.group(1) + HIDDEN, text)
    text = _SECRET_MAPPING.sub(lambda m: m.group(1) + HIDDEN, text)
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)


class RedactFilter(logging.Filter):
    """Mask secrets and personal data in a record's message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# --- gunicorn's access log ----------------------------------------------------------------


@functools.cache
def _gunicorn_logger_class() -> type[Any]:
    from gunicorn.glogging import Logger, SafeAtoms

    class RedactedAtoms(SafeAtoms):
        """The values an access-log format asks for, each passed through ``redact``."""

        def __getitem__(self, key: str) -> Any:
            value = super().__getitem__(key)
            return redact(value) if isinstance(value, str) else value

    class GunicornLogger(Logger):
        """gunicorn's logger with secrets and personal data masked in both its logs.

        The request line (``%(r)s``), path (``%(U)s``), query (``%(q)s``), referer
        (``%(f)s``) and any header (``%({name}i)s``) may carry a private tracking link's
        secret, a token or a petitioner's e-mail. A format without them would lose the
        path, which is what an access log is for; so each value the format uses is masked
        instead (only those: the rest of the request is never looked at). The error log
        gets the same filter as Django's handlers.
        """

        atoms_wrapper_class = RedactedAtoms

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.addFilter(RedactFilter())

    return GunicornLogger


def __getattr__(name: str) -> Any:
    # gunicorn runs the web nodes only; it is imported when its logger is asked for
    # (``logger_class`` in config/gunicorn.conf.py), never by Django itself.
    if name == "GunicornLogger":
        return _gunicorn_logger_class()
    raise AttributeError(name)
