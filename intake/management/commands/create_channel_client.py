"""Create an integration's API client; its token is printed once, as the last line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from complaints.models import Complaint
from intake.models import ChannelClient


class Command(BaseCommand):
    help = (
        "Create a channel client (WeChat, app, hotline system, CRM, Open311 client). "
        "The token is shown only now, as the last line of output; store it safely."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="a unique name, e.g. wechat-official-account")
        parser.add_argument(
            "--channel",
            default=Complaint.Channel.API,
            choices=Complaint.Channel.values,
            help="the channel its complaints are recorded under (default: api)",
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ChannelClient.Scope.values,
            help="what the token may do; repeat for several (default: intake)",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            metavar="DAYS",
            help="the token stops working after this many days (default: never)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the client a name.")
        if ChannelClient.objects.filter(name=name).exists():
            raise CommandError(f"A channel client named {name!r} exists already.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        scopes = list(dict.fromkeys(options["scopes"] or [ChannelClient.Scope.INTAKE]))
        client, token = ChannelClient.create_with_token(
            name=name,
            channel=options["channel"],
            scopes=scopes,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        expiry = (
            f"expires {client.expires_at:%Y-%m-%d %H:%M %Z}" if client.expires_at else "no expiry"
        )
        self.stderr.write(
            f"Created channel client {client.name!r} (channel {client.channel}, "
            f"scopes {', '.join(scopes)}, {expiry}). "
            "Its token follows; it cannot be shown again."
        )
        self.stdout.write(token)
