"""Helpers for tests that start Sutong in a fresh process (settings, `make run`)."""

from __future__ import annotations

import os
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
