"""Deactivating a user ends their sessions at once.

Django's ModelBackend already refuses an inactive user in ``get_user``, so the next
request of a deactivated user is anonymous whatever the session store holds. Deleting
their stored sessions as well leaves nothing behind to revive should they be reactivated,
and nothing lingering in the session table.

Their personal access tokens are revoked with the sessions: authentication already
refuses the token of an inactive user, and revoking makes it stay refused should the
account be reactivated. Channel tokens (``intake.models.ChannelClient``) belong to
integrations, not to staff users, and are not touched here.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from accounts.models import User

logger = logging.getLogger(__name__)


def end_sessions(user: User) -> int:
    """Delete every stored session of ``user``; the number deleted.

    The database engines (db, cached_db) can be searched: each unexpired session is
    decoded and compared, which is fine for a staff-sized table. The cache, file and
    signed-cookie engines cannot be searched; there ``get_user`` alone logs the user out.
    """
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store_class, DatabaseSessionStore):
        logger.info("Session engine %s cannot be searched; not deleting sessions", store_class)
        return 0
    user_id = user._meta.pk.value_to_string(user)
    sessions = store_class.get_model_class().objects.filter(expire_date__gt=timezone.now())
    ended = 0
    for session in sessions.iterator():
        if session.get_decoded().get(SESSION_KEY) == user_id:
            store_class(session_key=session.session_key).delete()  # cached_db: cache too
            ended += 1
    return ended


def end_sessions_of_deactivated_user(
    sender: type[User],
    instance: User,
    created: bool,
    update_fields: frozenset[str] | None,
    **kwargs: Any,
) -> None:
    """post_save: when a saved user is inactive, end their sessions and revoke their tokens.

    Saving an already inactive user searches again and finds nothing; a queryset
    ``update(is_active=False)`` sends no signal and relies on ``get_user`` alone.
    """
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    ended = end_sessions(instance)
    if ended:
        logger.info("Ended %d session(s) of deactivated user %s", ended, instance.username)
    revoked = instance.access_tokens.filter(is_active=True).update(
        is_active=False, revoked_at=timezone.now()
    )
    if revoked:
        logger.info("Revoked %d token(s) of deactivated user %s", revoked, instance.username)
