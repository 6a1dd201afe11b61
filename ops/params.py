"""Numbers from what a client sent: ASCII digits only.

``str.isdigit()`` also passes "²" or "٣", which ``int()`` then refuses or reads as a
number nobody typed; a hostile form field or header would become a 500.
"""

from __future__ import annotations


def ascii_int(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is ASCII digits only, else None."""
    return int(raw) if raw.isascii() and raw.isdecimal() else None
