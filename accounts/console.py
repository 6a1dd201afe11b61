"""The console's "API tokens" page: each person makes, sees and revokes their own tokens.

A new token is shown once, on the page after making it (taken out of the session as it
is shown), and never again: only its first characters stay visible. Tokens act as their
owner through the API (``/api/v1/docs/``); nobody else's tokens are listed here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import tokens
from accounts.models import AccessToken, User

SESSION_MADE = "new_access_token"
EXPIRY_DAYS = (30, 90, 365)
DEFAULT_EXPIRY_DAYS = 90
NEVER = "never"


def expiry_choices() -> list[tuple[str, str]]:
    """30, 90 and 365 days (as far as ``API_TOKEN_MAX_DAYS`` allows), or never."""
    days = [d for d in EXPIRY_DAYS if d <= settings.API_TOKEN_MAX_DAYS]
    return [(str(d), _("%(days)d days") % {"days": d}) for d in days] + [
        (NEVER, _("Does not expire"))
    ]


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"),
        max_length=100,
        help_text=gettext_lazy("What the token is for, e.g. “weekly export script”."),
    )
    scope = forms.ChoiceField(
        label=gettext_lazy("Access"),
        # Labels of their own: the model's "read" shares its msgid with "read" (a time).
        choices=[
            (AccessToken.Scope.READ, gettext_lazy("Read only")),
            (AccessToken.Scope.WRITE, gettext_lazy("Read and write")),
        ],
        initial=AccessToken.Scope.READ,
        widget=forms.RadioSelect,
    )
    expires = forms.ChoiceField(label=gettext_lazy("Expires after"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["expires"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = expiry_choices()
        days = [value for value, _label in field.choices]
        field.initial = str(DEFAULT_EXPIRY_DAYS) if str(DEFAULT_EXPIRY_DAYS) in days else days[0]

    def expires_at(self) -> datetime | None:
        chosen = self.cleaned_data["expires"]
        return None if chosen == NEVER else timezone.now() + timedelta(days=int(chosen))


def _own(user: User) -> list[AccessToken]:
    return list(AccessToken.objects.filter(user=user).order_by("-created_at", "-pk"))


@never_cache
@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's tokens, and the form to make one."""
    user: User = request.user  # type: ignore[assignment]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = tokens.issue(
                user=user,
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                expires_at=form.expires_at(),
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error("expires" if field == "expires_at" else field, problems)
        else:
            request.session[SESSION_MADE] = {"id": token.pk, "token": raw}
            return redirect("console:token_created")
    rows = [(token, tokens.usable(token)) for token in _own(user)]
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "rows": rows, "max_days": settings.API_TOKEN_MAX_DAYS},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required(login_url="console:login")
def token_created(request: HttpRequest) -> HttpResponse:
    """The new token, shown this once: it leaves the session as the page is made."""
    user: User = request.user  # type: ignore[assignment]
    made = request.session.pop(SESSION_MADE, None)
    if not made:
        return redirect("console:tokens")
    token = AccessToken.objects.filter(user=user, pk=made["id"]).first()
    if token is None:
        return redirect("console:tokens")
    response = render(
        request, "accounts/token_created.html", {"token": token, "raw": made["token"]}
    )
    # never_cache sets max-age=0, no-store; say it plainly for old proxies too.
    response["Cache-Control"] = "private, no-cache, no-store, must-revalidate, max-age=0"
    response["Pragma"] = "no-cache"
    return response


@login_required(login_url="console:login")
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    token = AccessToken.objects.filter(user=user, pk=pk).first()
    if token is None:
        raise Http404
    if tokens.revoke(token, by=user):
        messages.success(
            request,
            _("The token “%(name)s” is revoked; scripts using it are refused from now on.")
            % {"name": token.name},
        )
    return redirect("console:tokens")
