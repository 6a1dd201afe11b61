"""Login forms for the console and the back-office that say when a login is locked."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import lockout


class LoginForm(AuthenticationForm):
    """Django's login form, answering a locked username or address with the time left.

    The lock is checked before the password (by the form and again by the backend), and
    once more after a failure, since that failure may be the one that locks.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shown by templates/console/login.html in place of the usual mismatch message.
        self.lockout_message = ""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and self.cleaned_data.get("password"):
            self._refuse_if_locked(username)
        try:
            return super().clean()
        except ValidationError:
            if username:
                self._refuse_if_locked(username)
            raise

    def _refuse_if_locked(self, username: str) -> None:
        until = lockout.locked_until(
            username=str(username)[:150], ip=lockout.client_ip(self.request)
        )
        if until is not None:
            self.lockout_message = lockout.lockout_message(until)
            raise ValidationError(self.lockout_message, code="locked")


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The back-office login (staff only, as Django's), with the same lockout."""
