"""Messages to petitioners: the reply through the channel of origin, and other notices.

A reply goes out the way the complaint came in, where that channel can carry one:

=====================  ===========================================================
channel of origin       delivery
=====================  ===========================================================
e-mail                  e-mail, threaded to the petitioner's message (In-Reply-To)
web, WeChat, app,       e-mail or a text message with a link, as the petitioner
API, Open311            prefers and can be reached; else the tracking page (and
                        the integration's status) only
letter                  a printed letter (PDF), posted by staff who record it
phone, walk-in          an oral reply, given by staff who record it
=====================  ===========================================================

Staff may choose another possible way when sending (the petitioner asked for post,
the e-mail address bounced). Every message is an outbox row written in the service's
transaction (``notifications.services.notify``), so it is sent once, after commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils.translation import gettext as _

from complaints.models import ContactPreference, Delivery
from notifications.models import Notification
from notifications.services import Recipient, notify
from ops.params import ascii_int

if TYPE_CHECKING:
    from complaints.models import Complaint, Reply

Channel = Notification.Channel
# Reply prefixes the petitioner's subject may carry already ("Re: Re:" reads badly).
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|回复|答复)\s*[:：]\s*)+", re.IGNORECASE)


def recipient_of(complaint: Complaint) -> Recipient | None:
    """The petitioner as a message recipient, or None when they cannot or will not be reached."""
    person = complaint.petitioner
    if person is None or complaint.contact_preference == ContactPreference.NONE:
        return None
    if complaint.anonymised_at is not None:
        return None
    return Recipient(
        name=person.name,
        email=_reply_address(complaint) or person.email,
        phone=person.phone,
        language=person.language,
    )


def _reply_address(complaint: Complaint) -> str:
    """For e-mail complaints: where the petitioner's mailer asked replies to go."""
    data = complaint.channel_data if isinstance(complaint.channel_data, dict) else {}
    _name, address = parseaddr(str(data.get("sender") or ""))
    return address if "@" in address else ""


def possible_deliveries(complaint: Complaint) -> list[str]:
    """Ways a reply to ``complaint`` can reach its petitioner, the channel's own first."""
    person = recipient_of(complaint)
    found: list[str] = []
    if person is not None and person.email:
        found.append(Delivery.EMAIL)
    if person is not None and person.phone:
        found.append(Delivery.SMS)
    found += [Delivery.LETTER, Delivery.ORAL, Delivery.PORTAL]
    preferred = default_delivery(complaint)
    return [preferred, *(d for d in found if d != preferred)]


def default_delivery(complaint: Complaint) -> str:
    """The way the reply goes by default: the channel of origin (see the table above)."""
    person = recipient_of(complaint)
    email = person is not None and bool(person.email)
    phone = person is not None and bool(person.phone)
    channel = complaint.channel
    if complaint.contact_preference == ContactPreference.NONE:
        # "Do not contact me" holds whatever the channel: no letter, no call back.
        return Delivery.PORTAL
    if channel == "email" and email:
        return Delivery.EMAIL
    if channel == "letter":
        return Delivery.LETTER
    if channel in ("hotline", "walk_in"):
        return Delivery.ORAL
    preference = complaint.contact_preference
    if preference == ContactPreference.POST:
        return Delivery.LETTER
    if preference == ContactPreference.PHONE:
        return Delivery.ORAL
    if preference == ContactPreference.SMS and phone:
        return Delivery.SMS
    if email:
        return Delivery.EMAIL
    if phone:
        return Delivery.SMS
    return Delivery.PORTAL


def survey_path(token: str) -> str:
    return reverse("intake:survey", args=[token])


def reply_key(reply_id: int) -> str:
    """The outbox key of a reply's message (its rows' ``dedupe_key`` starts with it)."""
    return f"reply:{reply_id}"


def reply_id_of(dedupe_key: str) -> int | None:
    """The reply a ``reply.sent`` row carries, read back from its ``dedupe_key``."""
    kind, _sep, rest = dedupe_key.partition(":")
    number = rest.split(":", 1)[0]
    return ascii_int(number) if kind == "reply" else None


def send_reply(complaint: Complaint, reply: Reply, *, survey_token: str) -> int:
    """Queue the reply by e-mail or SMS (other deliveries are done by people); rows stored."""
    person = recipient_of(complaint)
    if person is None or reply.delivery not in (Delivery.EMAIL, Delivery.SMS):
        return 0
    link = survey_path(survey_token)
    if reply.delivery == Delivery.EMAIL:
        return notify(
            [person],
            kind="reply.sent",
            compose=lambda r: _reply_email(complaint, reply, link),
            key=reply_key(reply.pk),
            channels=[Channel.EMAIL],
            complaint_id=complaint.pk,
            url=link,
            headers=_thread_headers(complaint),
            attachment_ids=list(reply.attachments.values_list("pk", flat=True)),
        )
    return notify(
        [person],
        kind="reply.sent",
        compose=lambda r: (
            _("Your complaint %(code)s has been answered.") % {"code": complaint.tracking_code},
            _("Read the reply and tell us if it helped:"),
        ),
        key=reply_key(reply.pk),
        channels=[Channel.SMS],
        complaint_id=complaint.pk,
        url=link,
    )


def _reply_email(complaint: Complaint, reply: Reply, link: str) -> tuple[str, str]:
    data = complaint.channel_data if isinstance(complaint.channel_data, dict) else {}
    original = _REPLY_PREFIX.sub("", str(data.get("subject") or complaint.title)).strip()
    subject = _("Re: %(subject)s [%(code)s]") % {
        "subject": original or complaint.title,
        "code": complaint.tracking_code,
    }
    body = "\n\n".join(
        [
            reply.body.strip(),
            "—",
            _("Tracking code: %(code)s. Did this reply resolve your matter? Tell us here:")
            % {"code": complaint.tracking_code},
        ]
    )
    return subject, body


def _thread_headers(complaint: Complaint) -> dict[str, str]:
    """In-Reply-To and References, so the reply sits in the petitioner's own thread."""
    if complaint.channel != "email":
        return {}
    data = complaint.channel_data if isinstance(complaint.channel_data, dict) else {}
    message_id = str(data.get("message_id") or "")
    if not (message_id.startswith("<") and message_id.endswith(">")):
        return {}
    return {"In-Reply-To": message_id, "References": message_id}


def tell(
    complaint: Complaint,
    *,
    kind: str,
    key: str,
    compose: Callable[[], tuple[str, str]],
    channels: Sequence[str] = (Channel.EMAIL, Channel.SMS),
    url: str = "",
) -> int:
    """A short notice to the petitioner (rejection, merge, reopening…), on one channel.

    E-mail when they have an address, else a text message; nothing when they cannot or
    asked not to be contacted (they still read it on the tracking page).
    """
    person = recipient_of(complaint)
    if person is None:
        return 0
    usable = [c for c in channels if (c == Channel.EMAIL and person.email)]
    usable = usable or [c for c in channels if (c == Channel.SMS and person.phone)]
    if not usable:
        return 0
    return notify(
        [person],
        kind=kind,
        compose=lambda r: compose(),
        key=key,
        channels=usable[:1],
        complaint_id=complaint.pk,
        url=url or reverse("intake:track"),
        headers=_thread_headers(complaint) if usable[0] == Channel.EMAIL else None,
    )
