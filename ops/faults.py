"""Fault points for the chaos tests (tests/chaos): inert unless a test arms one.

    SUTONG_FAULT=exit-after-commit:intake   # the API's intake process dies after the
                                            # commit, before its answer is written

A fault point is a call ``faults.point("exit-after-commit:intake")`` at the one place in
the product where the fault matters. The variable is read once, when this module is
imported; in production it is unset, so a point costs one look-up in an empty frozenset
and does nothing. No setting, URL or request can arm a point: only the environment a
process is started with, which only tests set.

An armed point fires once per VAR_DIR (a marker file claimed with O_EXCL), so that the
process that replaces the dead one — gunicorn starts a new worker — serves the client's
retry instead of dying again.
"""

from __future__ import annotations

import os

from django.conf import settings

ARMED = frozenset(
    name.strip() for name in os.environ.get("SUTONG_FAULT", "").split(",") if name.strip()
)


def point(name: str) -> None:
    """Die here, at once and without cleaning up, if a test armed ``name``."""
    if name not in ARMED:
        return
    folder = settings.VAR_DIR / "faults"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(folder / name.replace(":", "-"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return  # fired already: let the retry through
    # Like a SIGKILL or a power cut: no response, no finally blocks, no atexit handlers.
    os._exit(70)
