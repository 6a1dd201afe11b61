"""Personal data of petitioners: masked by default, revealed on purpose, and logged.

Phone, e-mail, ID number and address are shown masked to everyone by default — also to
roles that hold ``view_personal_data``. Those roles get a "reveal" button instead: they
state why they need the data, ``services.reveal_personal_data`` writes a
``personal_data.viewed`` event, and only then is the card shown unmasked (on a page the
browser may not store). This is how established 信访 systems handle it: seeing personal
data is a deliberate act with a reason on record, never a side effect of opening a page,
so the audit log holds every unmasked view (DESIGN, "Security and privacy rules").

Roles without the permission (an auditor, a co-handling department outside the user's
reach) see the same masked card without the button.

A petitioner who asked to stay anonymous (``Complaint.is_anonymous``) is shown as
"Anonymous": their name, organisation, ID number and address are withheld, not merely
masked, because together those identify a person even in part. A masked phone number or
e-mail still shows that they can be reached. Revealing works as for anyone else: only with
the permission, and only with a reason.

The masks keep what helps staff recognise a value (the mobile prefix, the last digits,
the e-mail's domain, the street) and hide what identifies a person. They never return
more than they were given, and an empty value stays empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from complaints import permissions
from complaints.models import Complaint, Petitioner

STARS = "******"
ELLIPSIS = "…"
# Petitioner fields that hold personal data, in the order a card shows them.
PERSONAL_FIELDS = ("phone", "email", "id_number", "address")
# Withheld as a whole for anonymous petitioners (they identify a person).
IDENTITY_FIELDS = ("name", "organisation", "id_number", "address")

_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_CN_ID = re.compile(r"\d{17}[\dXx]")
_CJK = re.compile(r"[\u3400-\u9fff]")
# 88号, 12-3号, 8弄 — the house number in a Chinese address.
_CN_HOUSE_NUMBER = re.compile(r"\d+(?:[-－]\d+)?[号號弄]")
_CN_STREET = re.compile(r"[路街道巷]")
# 221B Baker Street, 12-14 High St — a house number followed by the street's name.
_EN_STREET = re.compile(r"\b\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?\s+(?P<street>[^\d,;]+)")


# --- Masks ------------------------------------------------------------------------------


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``; ``+86 138 1234 5678`` → ``+86 138 **** 5678``.

    Keeps the country code (when written with ``+``/``00`` and set apart, or ``+86``), the
    prefix of a Chinese mobile number and the last four digits; separators stay as they
    are. Short numbers keep a third of their digits at most.
    """
    value = (value or "").strip()
    digits = [i for i, char in enumerate(value) if char.isdigit()]
    if not digits:
        return STARS if value else ""
    number = "".join(value[i] for i in digits)
    country = _country_code_length(value, number)
    national = number[country:]
    head = country + (3 if _CN_MOBILE.fullmatch(national) else 0)
    tail = 4 if len(national) >= 8 else len(national) // 3
    kept = set(digits[:head]) | (set(digits[-tail:]) if tail else set())
    return "".join(
        "*" if char.isdigit() and i not in kept else char for i, char in enumerate(value)
    )


def _country_code_length(value: str, number: str) -> int:
    """How many leading digits of ``number`` are an international prefix and country code."""
    if value.startswith("+"):
        prefix = 0
    elif number.startswith("00"):
        prefix = 2
    else:
        return 0
    rest = number[prefix:]
    if rest.startswith("86") and _CN_MOBILE.fullmatch(rest[2:]):
        return prefix + 2
    # Otherwise only a code set apart from the number is certain: "+44 20 7946 0958".
    match = re.match(r"\+?\s*(\d{1,3})[\s\-.()]", value[2:] if prefix else value)
    return prefix + len(match.group(1)) if match else prefix


def mask_email(value: str) -> str:
    """``zhangwei@example.com`` → ``z******@example.com``: first character and domain.

    The stars do not tell the length of the name.
    """
    value = (value or "").strip()
    if not value:
        return ""
    local, at, domain = value.rpartition("@")
    if not at:
        local, domain = value, ""
    first = local[0] if len(local) > 1 else ""
    return f"{first}{STARS}{at}{domain}"


def mask_id_number(value: str) -> str:
    """``110101199003071234`` → ``110101********1234``.

    A Chinese resident ID keeps its region (first six) and last four characters; the birth
    date is hidden. Any other document (passport, old 15-digit ID) keeps its last four.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if _CN_ID.fullmatch(value):
        return f"{value[:6]}{'*' * 8}{value[-4:]}"
    keep = 4 if len(value) >= 8 else len(value) // 3
    return "*" * (len(value) - keep) + value[len(value) - keep :]


def mask_address(value: str) -> str:
    """``幸福路88号3栋2单元501`` → ``幸福路88号…``; ``221B Baker St, London`` → ``Baker St…``.

    A Chinese address keeps everything up to the house number (or else the street); an
    address in Latin script keeps the street's name and drops the house number. When
    neither is found, about the first third is kept. Something is always hidden.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if _CJK.search(value):
        for pattern in (_CN_HOUSE_NUMBER, _CN_STREET):
            match = pattern.search(value)
            if match and match.end() < len(value):
                return value[: match.end()] + ELLIPSIS
    else:
        match = _EN_STREET.search(value)
        if match and match.group("street").strip():
            return match.group("street").strip() + ELLIPSIS
    return value[: len(value) // 3] + ELLIPSIS


def mask_name(value: str) -> str:
    """The name of a petitioner who asked to stay anonymous: "Anonymous", whatever it is.

    Not partly masked: in a small place "张*" may be enough to know who complained.
    """
    return _("Anonymous")


# --- The petitioner card ----------------------------------------------------------------


@dataclass(frozen=True)
class PetitionerView:
    """The petitioner as one user may see them on one complaint; empty fields are hidden."""

    name: str
    type: str
    organisation: str
    phone: str
    email: str
    id_number: str
    address: str
    language: str
    contact_preference: str
    anonymous: bool
    # True while any personal value is masked or withheld.
    masked: bool
    # The user may reveal the values (holds view_personal_data for this complaint).
    can_reveal: bool


def petitioner_view(
    complaint: Complaint, user: Any, *, revealed: bool = False
) -> PetitionerView | None:
    """The petitioner of ``complaint`` for ``user``: masked unless ``revealed``.

    ``revealed=True`` is for the reveal page, after ``services.reveal_personal_data``
    logged the view; it never unmasks for a user without the permission. None when the
    complaint has no petitioner.
    """
    person: Petitioner | None = complaint.petitioner
    if person is None:
        return None
    allowed = permissions.can_view_personal_data(user, complaint)
    plain = revealed and allowed
    anonymous = complaint.is_anonymous
    hidden = anonymous and not plain

    def shown(field: str, mask: Any) -> str:
        value: str = getattr(person, field) or ""
        if plain or not value:
            return value
        if hidden and field in IDENTITY_FIELDS:
            return ""
        return str(mask(value))

    name = mask_name(person.name) if hidden else person.name
    has_private = anonymous or any(getattr(person, f) for f in PERSONAL_FIELDS)
    return PetitionerView(
        name=name,
        type=person.get_type_display(),
        organisation=shown("organisation", lambda value: value),
        phone=shown("phone", mask_phone),
        email=shown("email", mask_email),
        id_number=shown("id_number", mask_id_number),
        address=shown("address", mask_address),
        language=person.get_language_display() if person.language else "",
        contact_preference=(
            complaint.get_contact_preference_display() if complaint.contact_preference else ""
        ),
        anonymous=anonymous,
        masked=has_private and not plain,
        can_reveal=allowed,
    )


def revealed_fields(complaint: Complaint) -> list[str]:
    """The petitioner fields a reveal shows unmasked: what the audit event lists."""
    person = complaint.petitioner
    if person is None:
        return []
    fields = [f for f in PERSONAL_FIELDS if getattr(person, f)]
    if complaint.is_anonymous:
        identity = [f for f in IDENTITY_FIELDS if f not in fields and getattr(person, f)]
        fields = identity + fields
    return fields
