"""The peer-side chores bench/peer.py asks for, run with the peer venv's python:

    python ops.py create-database   # the peer's database, if it is missing
    python ops.py prepare           # a public queue and an API user with a token (idempotent)
    python ops.py info              # {"queue": id, "token": key} as JSON, for the load targets
    python ops.py reset             # delete every ticket, so a run counts from zero
    python ops.py count             # how many tickets are stored, once none is arriving

bench/peer.py never imports Django itself (it runs in Sutong's venv), so everything that
touches helpdesk's models happens here.
"""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

import psycopg2  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402 (needs django.setup())
from django.db import connection  # noqa: E402
from helpdesk.models import Queue, Ticket  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

QUEUE_SLUG = "bench"
API_USERNAME = "bench-api"


def create_database() -> None:
    database = settings.DATABASES["default"]
    # Connected to the server's maintenance database, since ours may not exist yet.
    server = psycopg2.connect(
        dbname="postgres",
        user=database["USER"],
        password=database["PASSWORD"],
        host=database["HOST"],
        port=database["PORT"] or 5432,
    )
    server.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{database["NAME"]}"')
    server.close()


def prepare() -> None:
    Queue.objects.update_or_create(
        slug=QUEUE_SLUG,
        defaults={"title": "Bench", "allow_public_submission": True},
    )
    # The API's ticket endpoints are for staff only (IsAdminUser).
    user, _ = get_user_model().objects.update_or_create(
        username=API_USERNAME, defaults={"is_staff": True, "is_active": True}
    )
    Token.objects.get_or_create(user=user)


def info() -> dict[str, object]:
    return {
        "queue": Queue.objects.get(slug=QUEUE_SLUG).pk,
        "token": Token.objects.get(user__username=API_USERNAME).key,
    }


def reset() -> None:
    # TRUNCATE … CASCADE empties the tickets and every table that points at them
    # (follow-ups, ticket changes, CCs, custom field values, attachments) in one
    # statement; the ORM's delete() would fetch and cascade tens of thousands of rows.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Ticket._meta.db_table} CASCADE")


def settled_count() -> int:
    """The number of tickets once it stops changing.

    wrk stops at its deadline without waiting for the requests it has sent, and the
    server is still creating their tickets for a moment; counting at once would miss
    them, or let them land after a reset.
    """
    count = Ticket.objects.count()
    while True:
        time.sleep(0.5)
        again = Ticket.objects.count()
        if again == count:
            return count
        count = again


def main(command: str) -> None:
    if command == "create-database":
        create_database()
    elif command == "prepare":
        prepare()
    elif command == "info":
        print(json.dumps(info()))
    elif command == "reset":
        settled_count()
        reset()
    elif command == "count":
        print(settled_count())
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1])
