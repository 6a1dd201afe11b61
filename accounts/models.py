from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.roles import Role

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class User(AbstractUser):
    """A member of staff (citizens do not log in; they use tracking code and secret)."""

    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # Away (leave, training): automatic assignment skips them.
    is_away = models.BooleanField(_("away"), default=False)
    # The language of what Sutong sends them (notifications); blank: the site's language.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("staff user")  # type: ignore[assignment]
        verbose_name_plural = _("staff users")  # type: ignore[assignment]

    def has_role(self, role: Role) -> bool:
        return self.groups.filter(name=role.value).exists()

    def get_full_name(self) -> str:
        """Chinese names read family name first, without a space (张承办); others as usual."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if _CJK.search(first + last):
            return f"{last}{first}"
        return super().get_full_name()

    @property
    def preferred_language(self) -> str:
        return self.language or settings.LANGUAGE_CODE

    @property
    def roles(self) -> list[Role]:
        names = {group.name for group in self.groups.all()}  # uses a prefetch if present
        return [role for role in Role if role.value in names]


class LoginFailure(models.Model):
    """One failed login: the username as typed and the client's address.

    Rows live in the database, not a per-process cache, so every web process counts the
    same failures (``accounts.lockout``). They are pruned once older than two lockout
    windows; successful logins delete the user's own rows.
    """

    username = models.CharField(_("username"), max_length=150)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # Python's clock, not the database's: the lockout compares it with timezone.now().
    at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins")
        indexes = [
            models.Index(fields=["username", "at"], name="loginfailure_username_at"),
            models.Index(fields=["ip", "at"], name="loginfailure_ip_at"),
            models.Index(fields=["at"], name="loginfailure_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} @ {self.ip} {self.at:%Y-%m-%d %H:%M:%S}"


# --- API credentials ----------------------------------------------------------------------


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.strip().encode()).hexdigest()


class Credential(models.Model):
    """A secret token that stands for someone calling the API.

    Only the token's SHA-256 is stored: the token itself is shown once, when made. A
    credential may expire, is revoked rather than deleted (what it did stays attributed),
    and remembers when and from where it was last used.
    """

    PREFIX = "st_"  # marks Sutong tokens (secret scanners look for it); subclasses narrow it

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so people can tell tokens apart without the secret.
    token_hint = models.CharField(_("token starts with"), max_length=12, editable=False)
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("Leave empty for a token that does not expire."),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    class Meta:
        abstract = True

    # Noted at most this often, not on every request.
    USE_NOTED_EVERY = timedelta(minutes=1)

    def issue_token(self) -> str:
        """Give the credential a new token (unsaved); the raw token is returned, never stored."""
        raw = self.PREFIX + secrets.token_urlsafe(32)
        self.token_hash, self.token_hint = hash_token(raw), raw[:12]
        return raw

    @classmethod
    def authenticate(cls, raw: str) -> Self | None:
        """The usable credential whose token is ``raw``: in use, not expired."""
        if not raw or not raw.startswith(cls.PREFIX):
            return None
        found = cls.objects.filter(token_hash=hash_token(raw), is_active=True).first()  # type: ignore[attr-defined]
        if found is None or found.has_expired():
            return None
        return found

    def has_expired(self, now: Any = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def revoke(self) -> None:
        self.is_active = False
        self.revoked_at = timezone.now()
        self.save(update_fields=["is_active", "revoked_at"])

    def note_use(self, ip: str | None) -> None:
        now = timezone.now()
        recent = self.last_used_at is not None and now - self.last_used_at < self.USE_NOTED_EVERY
        if recent and ip == self.last_used_ip:
            return
        self.last_used_at, self.last_used_ip = now, ip
        type(self).objects.filter(pk=self.pk).update(last_used_at=now, last_used_ip=ip)  # type: ignore[attr-defined]


class AccessToken(Credential):
    """A personal access token: a member of staff's scripts act through the API as them.

    It never reaches further than its owner: the owner's roles and department decide what
    it may see and do, and a read-only token only reads.
    """

    PREFIX = "stp_"

    class Scope(models.TextChoices):
        READ = "read", pgettext_lazy("token access", "read only")
        WRITE = "write", pgettext_lazy("token access", "read and write")

    user = models.ForeignKey(
        User, verbose_name=_("staff user"), on_delete=models.CASCADE, related_name="access_tokens"
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What the token is for."))
    scope = models.CharField(_("access"), max_length=10, choices=Scope, default=Scope.READ)

    class Meta:
        verbose_name = _("personal access token")
        verbose_name_plural = _("personal access tokens")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(is_active=True),
                name="accesstoken_unique_active_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user.get_username()})"

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE

    @classmethod
    def create_with_token(
        cls, *, user: User, name: str, scope: str = Scope.READ, expires_at: Any = None
    ) -> tuple[AccessToken, str]:
        token = cls(user=user, name=name, scope=scope, expires_at=expires_at)
        raw = token.issue_token()
        token.save()
        return token, raw


# --- Audit log --------------------------------------------------------------------------


class AuditEntry(models.Model):
    """One security-relevant act that is not a step of a complaint: a denied access, an
    export, a look-up by personal data, a suspected enumeration, a token made or revoked.

    A complaint's own history is its timeline (``complaints.Event``); this is the log for
    everything else, append-only (the back-office shows it read-only). It never holds a
    secret or a full personal value: ``detail`` names fields, not what they contained.
    """

    at = models.DateTimeField(_("time"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Kept when the user is deleted: the log still says who it was.
    actor_name = models.CharField(_("username"), max_length=150, blank=True)
    # Dotted, like timeline events: access.denied, personal_data.exported, …
    action = models.CharField(_("action"), max_length=64)
    # What it concerned, as "kind:id" (complaint:42, export:7, url:/console/…).
    target = models.CharField(_("concerning"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["action", "at"], name="auditentry_action_at"),
            models.Index(fields=["actor", "at"], name="auditentry_actor_at"),
            models.Index(fields=["at"], name="auditentry_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.target}"
