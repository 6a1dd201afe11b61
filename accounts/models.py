from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
