"""The peer, django-helpdesk 2.6.1, installed and served beside Sutong for side-by-side runs.

    from bench import peer
    peer.ensure_installed()
    peer.prepare()
    with peer.serving(port, ["--workers", "4", "--worker-class", "sync"]) as base_url:
        peer.reset()
        result = load.hammer(peer.form_target(base_url), seconds=10, connections=16)
        stored = peer.count_tickets()  # result.ok, plus up to one request per connection
                                       # that wrk sent but stopped waiting for

helpdesk lives in its own virtualenv (bench/.peer/venv, from bench/peer/requirements.txt)
with its own small Django project (bench/peer/): this module runs in Sutong's venv and never
imports Django or helpdesk, it drives the peer through subprocesses only. Both use the same
PostgreSQL server, the peer in its own database. bench/peer/ has no __init__.py on
purpose: it is a folder of scripts, not a package, so ``bench.peer`` stays this module.

``python -m bench.peer`` installs, prepares and serves the peer, and loads both of its
doors for creating tickets, the public form and the REST API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import quote

from bench.load import LoadResult, Target, free_port, hammer, serve

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR / "peer"
REQUIREMENTS = PROJECT_DIR / "requirements.txt"
STATE_DIR = BENCH_DIR / ".peer"
VENV_DIR = STATE_DIR / "venv"
STAMP = VENV_DIR / "requirements.sha256"
GUNICORN_LOG = STATE_DIR / "gunicorn.log"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1/sutong_bench_peer"
# The database every later call works on; prepare() changes it.
_database_url = os.environ.get("PEER_DATABASE_URL", DEFAULT_DATABASE_URL)

FORM_PATH = "/tickets/submit/"
API_PATH = "/api/tickets/"


def _python() -> Path:
    return VENV_DIR / "bin" / "python"


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_installed() -> Path:
    """Create the peer's venv and install its pinned requirements; return the venv folder.

    A stamp holding the hash of requirements.txt makes a second call a no-op; a changed
    requirements file installs again over the same venv.
    """
    if STAMP.exists() and STAMP.read_text().strip() == _requirements_hash():
        return VENV_DIR
    if not _python().exists():
        interpreter = shutil.which("python3.11")
        if interpreter is None:
            sys.exit("python3.11 is needed for the peer's virtualenv (django-helpdesk 2.6.1).")
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([interpreter, "-m", "venv", str(VENV_DIR)], check=True)  # noqa: S603
    print(f"installing django-helpdesk into {VENV_DIR} …", file=sys.stderr, flush=True)
    subprocess.run(  # noqa: S603 (our own arguments)
        [
            str(_python()),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    STAMP.write_text(_requirements_hash() + "\n")
    return VENV_DIR


def _env() -> dict[str, str]:
    # Only the peer project on the path: nothing of Sutong's environment (its settings
    # module, its PYTHONPATH) may leak into the peer's processes.
    return {
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(PROJECT_DIR),
        "PEER_DATABASE_URL": _database_url,
    }


def _run(*args: str) -> str:
    """Run a script of the peer project with the peer's python; return what it printed."""
    completed = subprocess.run(  # noqa: S603 (our own arguments)
        [str(_python()), *args],
        cwd=PROJECT_DIR,
        env={**os.environ, **_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"peer command {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
        )
    return completed.stdout


def prepare(database_url: str = DEFAULT_DATABASE_URL) -> None:
    """Create the database if missing, migrate it, and create a public queue and an API
    user with a token. Safe to run again."""
    global _database_url
    _database_url = database_url
    _info.cache_clear()
    ensure_installed()
    _run("ops.py", "create-database")
    _run("manage.py", "migrate", "--noinput")
    _run("ops.py", "prepare")


def reset() -> None:
    """Delete every ticket and what hangs off it, so that a run counts from zero.

    It first waits until no ticket is arriving any more, so that requests of an earlier
    run still in flight cannot add tickets after the reset.
    """
    _run("ops.py", "reset")


def count_tickets() -> int:
    """The tickets stored, counted once the number has stopped changing (half a second
    apart): the server finishes requests a load run sent but never waited for."""
    return int(_run("ops.py", "count"))


@cache
def _info() -> dict[str, str]:
    """The public queue's id and the API user's token, as prepare() left them."""
    return {key: str(value) for key, value in json.loads(_run("ops.py", "info")).items()}


@contextlib.contextmanager
def serving(port: int, gunicorn_args: list[str]) -> Iterator[str]:
    """Serve the peer with its own gunicorn on 127.0.0.1:``port``; yield its base URL."""
    base_url = f"http://127.0.0.1:{port}"
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        str(VENV_DIR / "bin" / "gunicorn"),
        *gunicorn_args,
        # gunicorn 27 opens a control socket at one fixed path per user; two servers on
        # one machine would fight over it, and Sutong's own config turns it off as well.
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "wsgi:application",
    ]
    with serve(
        command,
        probe_url=base_url + FORM_PATH,
        env=_env(),
        cwd=PROJECT_DIR,
        log=GUNICORN_LOG,
    ):
        yield base_url


def _form_field(value: str) -> str:
    # Percent-encode as a browser would, but keep the @N@ placeholder readable for wrk;
    # what replaces it (digits and "x") needs no encoding, and Django reads a bare "@".
    return quote(value, safe="@")


def form_target(base_url: str) -> Target:
    """The public form anonymous visitors open a ticket with.

    Django's CSRF check wants a cookie and the matching form token; one GET gets a pair,
    and Django accepts the same pair on every later POST, as a browser tab reusing its
    form would. A ticket created answers 302 (to the ticket's public page); a form with
    errors answers 200, so it is not counted as a success.
    """
    with urllib.request.urlopen(base_url + FORM_PATH, timeout=10) as response:  # noqa: S310
        page = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    cookie = next(
        (c.split(";")[0] for c in cookies if c.startswith("csrftoken=")),
        None,
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if cookie is None or token is None:
        raise RuntimeError(f"no CSRF cookie or token on {base_url + FORM_PATH}")
    fields = {
        "csrfmiddlewaretoken": token.group(1),
        "queue": _info()["queue"],
        "title": "Bench ticket @N@",
        "body": "The printer on floor @N@ jams on every second page.",
        "priority": "3",
        "due_date": "",
        "submitter_email": "bench-@N@@example.com",
    }
    return Target(
        "helpdesk public form",
        "POST",
        base_url + FORM_PATH,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
        },
        body="&".join(f"{name}={_form_field(value)}" for name, value in fields.items()),
        ok=(302,),
    )


def api_target(base_url: str) -> Target:
    """helpdesk's REST API for tickets, as its staff-only API user with a DRF token."""
    info = _info()
    body = {
        "queue": int(info["queue"]),
        "title": "Bench ticket @N@",
        "description": "The printer on floor @N@ jams on every second page.",
        "submitter_email": "bench-@N@@example.com",
        "priority": 3,
    }
    return Target(
        "helpdesk REST API",
        "POST",
        base_url + API_PATH,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Token {info['token']}",
        },
        body=json.dumps(body),
        ok=(201,),
    )


def _report(target: Target, result: LoadResult, stored: int, connections: int) -> bool:
    """Print one run; True when it created a ticket for every answer and erred nowhere."""
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(result.statuses.items()))
    print(f"{target.name} ({target.method} {target.url})")
    print(f"  {result.rate:,.1f} tickets/s over {result.seconds:.1f} s")
    print(f"  latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    print(f"  statuses {{{statuses}}}, socket errors {result.socket_errors}")
    # wrk stops at its deadline without waiting for the requests it has sent: the server
    # still creates those tickets, but their answers are never counted. So up to one
    # ticket per connection more than answers is expected, and no fewer may be stored.
    in_flight = stored - result.ok
    equal = "yes" if in_flight == 0 else f"no, {in_flight:+d}"
    print(f"  tickets stored {stored}, successful answers {result.ok}: equal {equal}")
    if in_flight:
        print(f"  (at most {connections} requests, one per connection, were still in flight")
        print("   when wrk stopped; their tickets exist but their answers were not counted)")
    return result.failed == 0 and result.ok > 0 and 0 <= in_flight <= connections


def main() -> int:
    ensure_installed()
    prepare()
    workers = ["--workers", "4", "--worker-class", "sync", "--keep-alive", "5"]
    connections = 16
    healthy = True
    with serving(free_port(), workers) as base_url:
        for target in (form_target(base_url), api_target(base_url)):
            # A short warm-up first: every worker loads its templates and opens its
            # database connection, which is not what the run is meant to measure.
            # reset() waits for its last tickets to land before deleting them.
            hammer(target, seconds=2, connections=connections)
            reset()
            result = hammer(target, seconds=10, connections=connections)
            healthy &= _report(target, result, count_tickets(), connections)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
