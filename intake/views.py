"""The citizen portal: submit a complaint, then follow it with its code and secret.

Access to one complaint is proven once (code + secret, or the private link) and then
remembered in the visitor's session, so the secret leaves the address bar at once.
Look-ups are rate-limited per visitor and per code; a wrong code and a wrong secret get
the same answer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from complaints import selectors, tracking
from complaints.errors import GuardFailed
from complaints.models import Complaint
from intake import ratelimit, services
from intake.forms import SubmitForm, SupplementForm, TrackForm
from intake.links import private_link
from intake.submission import Upload

SESSION_TRACKED = "tracked_complaints"
SESSION_SUBMITTED = "just_submitted"
# Look-ups per visitor per 10 minutes, and failed look-ups per code per hour.
LOOKUPS_PER_VISITOR = 20
FAILURES_PER_CODE = 10


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/home.html", {"track_form": TrackForm()})


@require_http_methods(["GET", "POST"])
def submit_view(request: HttpRequest) -> HttpResponse:
    form = SubmitForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        submission = form.submission(channel=Complaint.Channel.WEB, language=get_language() or "")
        try:
            receipt = services.submit(submission, actor_label="petitioner")
        except GuardFailed as error:
            form.add_refusal(error)
        else:
            assert receipt.secret is not None  # a new web submission always has one
            _remember(request, receipt.complaint)
            request.session[SESSION_SUBMITTED] = {
                "code": receipt.complaint.tracking_code,
                "secret": receipt.secret,
            }
            return redirect("intake:submitted")
    return render(request, "intake/submit.html", {"form": form}, status=400 if form.errors else 200)


def submitted(request: HttpRequest) -> HttpResponse:
    """The confirmation, shown once: the code and the secret are not kept afterwards."""
    details = request.session.pop(SESSION_SUBMITTED, None)
    if not details:
        return redirect("intake:track")
    link = private_link(request, details["code"], details["secret"])
    return render(
        request,
        "intake/submitted.html",
        {"code": details["code"], "secret": details["secret"], "private_link": link},
    )


def _remember(request: HttpRequest, complaint: Complaint) -> None:
    tracked = set(request.session.get(SESSION_TRACKED, []))
    tracked.add(complaint.tracking_code)
    request.session[SESSION_TRACKED] = sorted(tracked)[-20:]


def _may_see(request: HttpRequest, code: str) -> bool:
    return code in request.session.get(SESSION_TRACKED, [])


def _look_up(request: HttpRequest, raw_code: str, secret: str) -> Complaint | str | None:
    """The complaint, None for "no match", or "limited" when too many tries were made."""
    visitor = ratelimit.client_ip(request)
    code = tracking.normalize_tracking_code(raw_code) or raw_code.strip().upper()[:40]
    if not ratelimit.hit("track-visitor", visitor, limit=LOOKUPS_PER_VISITOR, window=600):
        return "limited"
    if ratelimit.exceeded("track-code", code, limit=FAILURES_PER_CODE, window=3600):
        return "limited"
    complaint = (
        Complaint.objects.filter(tracking_code=code)
        .only("pk", "tracking_code", "secret_hash")
        .first()
    )
    # Compare even without a complaint, so timing does not tell a known code apart.
    stored = complaint.secret_hash if complaint else tracking.hash_secret("-")
    if tracking.secret_matches(secret, stored) and complaint is not None:
        return complaint
    ratelimit.hit("track-code", code, limit=FAILURES_PER_CODE, window=3600)
    return None


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.POST or None, initial={"code": request.GET.get("code", "")[:40]})
    status = 200
    if request.method == "POST" and form.is_valid():
        found = _look_up(request, form.cleaned_data["code"], form.cleaned_data["secret"])
        if found == "limited":
            form.add_error(None, _("Too many attempts. Please wait a while and try again."))
            status = 429
        elif found is None:
            form.add_error(
                None, _("We could not find a matter with this tracking code and secret.")
            )
            status = 404
        else:
            assert isinstance(found, Complaint)
            _remember(request, found)
            return redirect("intake:tracked", code=found.tracking_code)
    elif form.errors:
        status = 400
    return render(request, "intake/track.html", {"form": form}, status=status)


def track_private(request: HttpRequest, code: str, secret: str) -> HttpResponse:
    """The private link: prove access, then drop the secret from the address bar."""
    found = _look_up(request, code, secret)
    if isinstance(found, Complaint):
        _remember(request, found)
        return redirect("intake:tracked", code=found.tracking_code)
    form = TrackForm(initial={"code": code})
    form.is_bound = False
    message = (
        _("Too many attempts. Please wait a while and try again.")
        if found == "limited"
        else _("This link is not valid. Enter your tracking code and secret.")
    )
    return render(
        request,
        "intake/track.html",
        {"form": form, "error": message},
        status=429 if found == "limited" else 404,
    )


@require_http_methods(["GET", "POST"])
def tracked(request: HttpRequest, code: str) -> HttpResponse:
    if not _may_see(request, code):
        return redirect(f"{reverse('intake:track')}?code={code}")
    complaint = (
        Complaint.objects.select_related("category", "department")
        .filter(tracking_code=code)
        .first()
    )
    if complaint is None:
        return redirect("intake:track")
    question = selectors.open_question(complaint)
    form = SupplementForm(request.POST or None, request.FILES or None) if question else None
    if request.method == "POST":
        if form is None:
            messages.info(request, _("This matter is not waiting for information from you."))
            return HttpResponseRedirect(request.path)
        if form.is_valid():
            try:
                services.add_supplement(
                    complaint_id=complaint.pk,
                    text=form.cleaned_data["text"],
                    uploads=tuple(Upload.from_file(f) for f in form.cleaned_data["attachments"]),
                    actor_label="petitioner",
                )
            except GuardFailed as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Thank you. We have received your information."))
                return HttpResponseRedirect(request.path)
    return render(
        request,
        "intake/tracked.html",
        {
            "complaint": complaint,
            "timeline": selectors.public_timeline(complaint),
            "replies": selectors.sent_replies(complaint),
            "question": question,
            "form": form,
            "max_files": settings.ATTACHMENT_MAX_COUNT,
        },
        status=400 if form is not None and form.errors else 200,
    )


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/privacy.html")
