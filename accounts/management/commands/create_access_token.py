"""Make a personal access token for a member of staff; printed once, as the last line.

People make their own tokens in the console ("API tokens"); this is for set-ups without
a browser: a script's account, or the first token of a deployment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import tokens
from accounts.models import AccessToken, User


class Command(BaseCommand):
    help = (
        "Make a personal access token that acts as USERNAME through the API. The token is "
        "shown only now, as the last line of output; hand it to its owner safely."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the staff user the token acts as")
        parser.add_argument("name", help="what the token is for, e.g. nightly-export")
        parser.add_argument(
            "--write", action="store_true", help="read and write (default: read only)"
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            metavar="DAYS",
            help="the token stops working after this many days (default: never; at most "
            "API_TOKEN_MAX_DAYS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['username']!r}.")
        if not user.is_active:
            raise CommandError(f"{user.username!r} cannot log in; a token would not work.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        scope = AccessToken.Scope.WRITE if options["write"] else AccessToken.Scope.READ
        try:
            token, raw = tokens.issue(
                user=user,
                name=options["name"],
                scope=scope,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        expiry = (
            f"expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else "no expiry"
        )
        self.stderr.write(
            f"Made token {token.name!r} for {user.username!r} ({token.scope}, {expiry}). "
            "It follows; it cannot be shown again."
        )
        self.stdout.write(raw)
