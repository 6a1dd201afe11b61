"""Tracking codes and citizen secrets.

A tracking code (``TS-2026-7KQ3M9XA``) is what a petitioner reads out on the phone: year
plus eight random Crockford base32 symbols (40 bits), so neighbours reveal nothing about
each other, and the alphabet has no I, L, O or U to confuse. The secret is a separate,
longer random string; only its SHA-256 is stored. Both are random, not chosen by people,
so a fast hash is enough (as for API tokens): there is no dictionary to try.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from django.utils import timezone

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "TS"
CODE_LENGTH = 8
SECRET_LENGTH = 12

_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_RE = re.compile(rf"^{PREFIX}(\d{{4}})([{CROCKFORD}]{{{CODE_LENGTH}}})$")


def _random_symbols(count: int) -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(count))


def new_tracking_code(received_at: datetime | None = None) -> str:
    year = timezone.localtime(received_at or timezone.now()).year
    return f"{PREFIX}-{year}-{_random_symbols(CODE_LENGTH)}"


def normalize_tracking_code(raw: str) -> str | None:
    """The canonical form of what someone typed, or None if it cannot be a code.

    Accepts lower case, missing or extra hyphens and spaces, and O/I/L for 0/1/1.
    """
    compact = re.sub(r"[\s\-_]", "", raw or "").upper().translate(_CONFUSABLE)
    # The translation turned the prefix's letters too, if they were confusable; TS is not.
    match = _CODE_RE.match(compact)
    if not match:
        return None
    year, symbols = match.groups()
    return f"{PREFIX}-{year}-{symbols}"


def new_secret() -> str:
    """A secret for citizen access, grouped for reading: ``7KQ3-M9XA-2B4C``."""
    raw = _random_symbols(SECRET_LENGTH)
    return "-".join(raw[i : i + 4] for i in range(0, SECRET_LENGTH, 4))


def _canonical_secret(raw: str) -> str:
    return re.sub(r"[\s\-_]", "", raw or "").upper().translate(_CONFUSABLE)


def hash_secret(raw: str) -> str:
    return hashlib.sha256(_canonical_secret(raw).encode()).hexdigest()


def secret_matches(raw: str, stored_hash: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(hash_secret(raw), stored_hash)
