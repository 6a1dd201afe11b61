"""Helpers for tests that start Sutong in a fresh process (settings, `make run`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Variables that steer Sutong; a test starts from none of them and sets what it tests.
SUTONG_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "EMAIL_HOST",
    "EMAIL_BACKEND",
    "BIND",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def clean_environment(var_dir: Path, **overrides: str) -> dict[str, str]:
    """os.environ without Sutong's own variables, plus VAR_DIR and ``overrides``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SUTONG_VARIABLES and not name.startswith(("SECURE_", "HEARTBEAT_"))
    }
    env.update(VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    return env


@contextlib.contextmanager
def celery_worker(
    env: dict[str, str], log: Path, *, beat: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker (solo pool, optionally with beat) for the ``with`` block.

    Its output goes to ``log``. It runs in its own process group, stopped with SIGTERM on
    leaving the block (SIGKILL if it does not stop within 30 s), so no test leaves a worker
    behind.
    """
    command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    if beat:
        command.append("--beat")
    command += ["--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    with log.open("wb") as output:
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield worker
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
