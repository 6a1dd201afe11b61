"""Path converters: ids that fit a database key, so a huge number is a 404, not a 500."""

from __future__ import annotations


class Id:
    """A positive decimal id of at most 18 digits (a 64-bit key holds 19)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
