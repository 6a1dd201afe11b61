"""Create an integration's API client; its token is printed once, as the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

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

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the client a name.")
        if ChannelClient.objects.filter(name=name).exists():
            raise CommandError(f"A channel client named {name!r} exists already.")
        client, token = ChannelClient.create_with_token(name=name, channel=options["channel"])
        self.stderr.write(
            f"Created channel client {client.name!r} (channel {client.channel}). "
            "Its token follows; it cannot be shown again."
        )
        self.stdout.write(token)
