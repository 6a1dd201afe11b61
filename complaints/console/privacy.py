"""Revealing a petitioner's personal data: a reason, an audit event, then the plain card.

GET asks for the reason; POST logs the view through ``services.reveal_personal_data`` and
shows the unmasked card once. Nothing unmasked is ever rendered without that event, and
the page tells browsers and proxies not to keep a copy.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import User
from complaints import permissions, services
from complaints.errors import DomainError
from complaints.errors import PermissionDenied as NotAllowed
from complaints.forms import ReasonForm
from complaints.privacy import petitioner_view


class RevealForm(ReasonForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = _("Why do you need to see the personal data?")
        self.fields["reason"].help_text = _(
            "Recorded on the complaint's timeline with your name, for the audit log."
        )


@never_cache
@login_required(login_url="console:login")
@require_http_methods(["GET", "POST"])
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    complaint = permissions.complaint_or_404(user, pk, "petitioner", request=request)
    if not permissions.can_view_personal_data(user, complaint):
        raise PermissionDenied
    form = RevealForm(request.POST if request.method == "POST" else None)
    petitioner = None
    if form.is_valid():
        try:
            services.reveal_personal_data(
                complaint_id=complaint.pk, reason=form.cleaned_data["reason"], actor=user
            )
        except NotAllowed as error:
            raise PermissionDenied from error
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            petitioner = petitioner_view(complaint, user, revealed=True)
    response = render(
        request,
        "complaints/reveal.html",
        {"complaint": complaint, "form": form, "petitioner": petitioner},
        status=400 if form.errors else 200,
    )
    # never_cache sets max-age=0, no-store; say it plainly for old proxies too.
    response["Cache-Control"] = "private, no-cache, no-store, must-revalidate, max-age=0"
    response["Pragma"] = "no-cache"
    return response
