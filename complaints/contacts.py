"""Contact details in one canonical form, so the same person is recognised on every channel."""

from __future__ import annotations

import re
import unicodedata

_PHONE_JUNK = re.compile(r"[\s\-().·/]")


def normalize_phone(raw: str) -> str:
    """A phone number in one canonical form, or "" if none was given.

    Mainland mobiles become their 11 digits (``13812345678``) whatever the prefix
    (+86, 0086, 86); other numbers keep a leading ``+`` for international, and digits
    only otherwise (``01088886666``). Raises ValueError for what cannot be a number.
    """
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return ""
    text = _PHONE_JUNK.sub("", text)
    international = text.startswith("+") or text.startswith("00")
    digits = text.lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if not digits.isdigit():
        raise ValueError(raw)
    if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        return digits[2:]
    if international and not digits.startswith("86"):
        if not 7 <= len(digits) <= 15:
            raise ValueError(raw)
        return "+" + digits
    if digits.startswith("86") and international:
        digits = "0" + digits[2:] if digits[2] != "1" else digits[2:]
    if not 5 <= len(digits) <= 15:
        raise ValueError(raw)
    return digits
