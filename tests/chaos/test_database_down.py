"""PostgreSQL gone while Sutong serves: 503 with Retry-After, nothing half-stored, and the
same processes serve again when it is back.

The web server reaches PostgreSQL through a proxy (tests/chaos/faults.py) that the test
cuts — new connections refused, open ones reset — and restores; the server itself and
everyone else's databases are never touched. An unreachable database is answered by
ops.unavailable (Django's handler500): the API's error body, an HTML page on the portal.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.chaos.faults import Portal, Proxy
from tests.chaos.stack import Stack, call, wait_for
from tests.intake.test_portal import FORM  # the portal form a citizen fills in

BODY = {
    "kind": "complaint",
    "title": "小区门口积水",
    "content": "下雨后小区门口积水很深，老人出门不便。",
    "petitioner": {"name": "孙丽", "phone": "13700002222"},
}


def proxied(sutong: Stack, proxy: Proxy) -> str:
    return f"postgres://postgres@127.0.0.1:{proxy.port}/{sutong.database}"


def api_submit(base: str, token: str, key: str, language: str = "zh-hans") -> Any:
    return call(
        f"{base}/api/v1/intake/",
        body=BODY,
        headers={
            "Authorization": f"Token {token}",
            "Idempotency-Key": key,
            "Accept-Language": language,
        },
    )


def booted_workers(sutong: Stack) -> int:
    """gunicorn's "Booting worker" lines so far: a worker that died is replaced by one."""
    return sum(log.read_text().count("Booting worker") for log in sutong.var_dir.glob("web-*.log"))


def assert_whole(sutong: Stack, complaint_id: int) -> None:
    """A stored complaint has its receipt event and its deadlines: never half a complaint."""
    assert sutong.scalar(
        "SELECT count(*) FROM complaints_event WHERE complaint_id = %s AND kind = %s",
        (complaint_id, "complaint.received"),
    ), complaint_id
    assert sutong.scalar(
        "SELECT count(*) FROM sla_deadline WHERE complaint_id = %s", (complaint_id,)
    ), complaint_id


def test_a_database_cut_while_idle_answers_503_and_recovers_without_a_restart(
    sutong: Stack,
) -> None:
    token = sutong.channel_token()
    with (
        Proxy(5432) as database,
        sutong.web(DATABASE_URL=proxied(sutong, database)) as (
            process,
            base,
        ),
    ):
        portal = Portal(base, language="en")
        assert portal.request("/submit/")[0] == 200  # the form, and its CSRF cookie
        assert api_submit(base, token, "idle-before")[0] == 201
        workers = booted_workers(sutong)
        before = sutong.scalar("SELECT count(*) FROM complaints_complaint")

        database.cut()
        status, headers, body = api_submit(base, token, "idle-during", language="en")
        assert status == 503, body
        assert headers["Retry-After"].isdigit()
        assert body["code"] == "unavailable"
        assert body["message"] == (
            "The service is briefly unavailable. Please try again in a moment."
        )
        assert body["errors"] == []
        status, headers, _ = api_submit(base, token, "idle-during-zh")
        assert status == 503
        status, headers, page = portal.request("/submit/", FORM)
        assert status == 503, page
        assert headers["Retry-After"].isdigit()
        assert headers["Content-Type"].startswith("text/html")
        assert "briefly unavailable" in page
        status, _, health = call(f"{base}/healthz")
        assert status == 503
        assert health["database"]["ok"] is False
        assert health["status"] == "down"

        database.restore()
        # The same processes serve again: no worker died, none was restarted.
        status, _, body = api_submit(base, token, "idle-after")
        assert status == 201, body
        assert portal.request("/submit/", FORM)[0] == 302
        assert call(f"{base}/healthz")[0] == 200
        assert process.poll() is None
        assert booted_workers(sutong) == workers

    # Nothing from the outage was stored; the two after it were.
    assert sutong.scalar("SELECT count(*) FROM complaints_complaint") == before + 2
    assert (
        sutong.scalar(
            "SELECT count(*) FROM complaints_complaint WHERE external_ref LIKE %s",
            ("client-%:idle-during%",),
        )
        == 0
    )


def test_a_database_cut_during_submissions_never_claims_what_it_did_not_store(
    figures: Callable[[str], None],
    sutong: Stack,
) -> None:
    token = sutong.channel_token()
    first_new = sutong.scalar("SELECT coalesce(max(id), 0) FROM complaints_complaint") + 1
    answers: list[tuple[str, int, dict[str, str], Any]] = []  # (key or "portal", …)
    stop = threading.Event()
    numbers = itertools.count()

    with (
        Proxy(5432) as database,
        sutong.web(workers=3, DATABASE_URL=proxied(sutong, database)) as (process, base),
    ):

        def channel() -> None:
            while not stop.is_set():
                key = f"flight-{next(numbers)}"
                try:
                    status, headers, body = api_submit(base, token, key)
                except OSError as error:  # a dropped connection: recorded, and a failure
                    status, headers, body = -1, {}, repr(error)
                answers.append((key, status, headers, body))

        def citizen() -> None:
            portal = Portal(base)
            wait_for(lambda: portal.request("/submit/")[0] == 200, what="the portal's form")
            while not stop.is_set():
                try:
                    status, headers, page = portal.request("/submit/", FORM)
                except OSError as error:
                    status, headers, page = -1, {}, repr(error)
                answers.append(("portal", status, headers, page))

        threads = [threading.Thread(target=channel) for _ in range(3)]
        threads.append(threading.Thread(target=citizen))
        for thread in threads:
            thread.start()
        try:
            for _ in range(4):  # cut and restore while requests are in flight
                time.sleep(1.5)
                database.cut()
                time.sleep(1.5)
                database.restore()
            time.sleep(1.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        statuses = Counter((kind == "portal", status) for kind, status, _, _ in answers)
        # Some work was done and some refused, or the test proved nothing.
        assert statuses[(False, 201)], statuses
        assert statuses[(False, 503)], statuses

        # Never a 500, never a dropped connection: 201/302 or a 503 with Retry-After.
        for kind, status, headers, _ in answers:
            assert status in ({302, 503} if kind == "portal" else {201, 503}), (kind, status)
            if status == 503:
                assert headers["Retry-After"].isdigit()

        # The channel retries what was refused, with the same key, once the database is back.
        retried: Counter[int] = Counter()
        for key, status, _, _ in answers:
            if key != "portal" and status == 503:
                again = api_submit(base, token, key)
                retried[again[0]] += 1
                # 201 (done now, or replayed: the commit went through before the cut), or
                # 409 while the claim of the refused attempt has not expired yet.
                assert again[0] in {201, 409}, again
                if again[0] == 201:
                    answers.append((key, 201, again[1], again[2]))
        assert process.poll() is None
        assert api_submit(base, token, "after-the-storm")[0] == 201

    # Every 201 names a complaint that is really stored, whole, once per key.
    created = {key: body["id"] for key, status, _, body in answers if status == 201}
    for key, complaint_id in created.items():
        rows = sutong.query(
            "SELECT id FROM complaints_complaint WHERE external_ref LIKE %s", (f"client-%:{key}",)
        )
        assert rows == [(complaint_id,)], key
    # No complaint of this test lacks its events or deadlines, whatever the cut hit.
    new_ids = [
        row[0]
        for row in sutong.query("SELECT id FROM complaints_complaint WHERE id >= %s", (first_new,))
    ]
    for complaint_id in new_ids:
        assert_whole(sutong, complaint_id)
    # The portal's redirects (302: "stored, here is your code") are all stored too.
    portal_stored = sutong.scalar(
        "SELECT count(*) FROM complaints_complaint WHERE id >= %s AND channel = 'web'",
        (first_new,),
    )
    portal_answers = Counter(status for kind, status, _, _ in answers if kind == "portal")
    assert portal_answers[302] <= portal_stored <= portal_answers[302] + portal_answers[503]
    by = {
        name: {status: n for (portal, status), n in sorted(statuses.items()) if portal == is_portal}
        for name, is_portal in (("API", False), ("portal", True))
    }
    figures(
        f"answers during the cut: API {by['API']}, portal {by['portal']}; "
        f"the API's 503s sent again with their key: {dict(sorted(retried.items()))}"
    )
