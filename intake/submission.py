"""The one shape every channel brings its complaint in.

A channel adapter (portal form, staff registration, e-mail parser, REST API, Open311)
fills a ``Submission`` and calls ``intake.services.submit``; it never creates complaints
itself. Validation and normalisation happen in the service, once for every channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from complaints.files import Upload


@dataclass(frozen=True)
class Submission:
    channel: str  # a Complaint.Channel value
    content: str
    title: str = ""
    kind: str = "complaint"  # a Complaint.Kind value
    petitioner_type: str = "individual"  # a Petitioner.Type value
    name: str = ""
    organisation: str = ""
    phone: str = ""
    email: str = ""
    id_number: str = ""
    address: str = ""
    location: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    occurred_at: datetime | None = None
    anonymous: bool = False
    contact_preference: str = ""  # a ContactPreference value, or "" for no preference
    language: str = ""
    privacy_consent: bool = False
    # The channel's own id of this message (Message-ID, idempotency key, letter number):
    # a second submission with the same channel and reference returns the first complaint.
    external_ref: str = ""
    received_at: datetime | None = None
    uploads: tuple[Upload, ...] = ()
    channel_data: dict[str, Any] = field(default_factory=dict)
    # The channel client (intake.models.ChannelClient) that sent it, if one did.
    client: Any = None
