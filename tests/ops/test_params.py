"""``ops.params.ascii_int``: what ``str.isdigit()`` lets through must not become a 500."""

from __future__ import annotations

import pytest

from ops.params import ascii_int


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        ("", None),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("1.5", None),
        (" 1", None),
        ("1²", None),
    ],
)
def test_only_ascii_digits_are_a_number(raw: str, number: int | None) -> None:
    assert ascii_int(raw) == number
