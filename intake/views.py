"""The citizen portal: submit a complaint, then follow it with its code and secret.

Access to one complaint is proven once (code + secret, or the private link) and then
remembered in the visitor's session, so the secret leaves the address bar at once.
Look-ups are rate-limited per visitor and per code, and a run of failures raises an alarm
(``intake.lookup``); a wrong code and a wrong secret get the same answer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from complaints import selectors, surveys
from complaints import services as complaint_services
from complaints.errors import GuardFailed, InvalidTransition
from complaints.files import Upload
from complaints.forms import SurveyForm, WithdrawForm
from complaints.models import Complaint
from intake import lookup, services
from intake.forms import SubmitForm, SupplementForm, TrackForm
from intake.links import private_link

SESSION_TRACKED = "tracked_complaints"
SESSION_SUBMITTED = "just_submitted"


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


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.POST or None, initial={"code": request.GET.get("code", "")[:40]})
    status = 200
    if request.method == "POST" and form.is_valid():
        found = lookup.look_up(request, form.cleaned_data["code"], form.cleaned_data["secret"])
        if isinstance(found, lookup.Limited):
            form.add_error(None, _("Too many attempts. Please wait a while and try again."))
            return _refused(request, {"form": form}, found)
        if found is None:
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
    found = lookup.look_up(request, code, secret)
    if isinstance(found, Complaint):
        _remember(request, found)
        return redirect("intake:tracked", code=found.tracking_code)
    form = TrackForm(initial={"code": code})
    form.is_bound = False
    if isinstance(found, lookup.Limited):
        message = _("Too many attempts. Please wait a while and try again.")
        return _refused(request, {"form": form, "error": message}, found)
    message = _("This link is not valid. Enter your tracking code and secret.")
    return render(request, "intake/track.html", {"form": form, "error": message}, status=404)


def _refused(
    request: HttpRequest, context: dict[str, object], limited: lookup.Limited
) -> HttpResponse:
    """429 with the form again, and when to come back (Retry-After, in seconds)."""
    response = render(request, "intake/track.html", context, status=429)
    response["Retry-After"] = str(limited.retry_after)
    return response


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
    return _tracked_page(request, complaint, question=question, form=form)


def _tracked_page(
    request: HttpRequest,
    complaint: Complaint,
    *,
    question: str | None = None,
    form: SupplementForm | None = None,
    survey_form: SurveyForm | None = None,
    withdraw_form: WithdrawForm | None = None,
) -> HttpResponse:
    survey = surveys.current(complaint)
    if survey is not None and survey_form is None:
        survey_form = SurveyForm()
    if complaint.is_open and withdraw_form is None:
        withdraw_form = WithdrawForm()
    invalid = any(f is not None and f.errors for f in (form, survey_form, withdraw_form))
    response = render(
        request,
        "intake/tracked.html",
        {
            "complaint": complaint,
            "timeline": selectors.public_timeline(complaint),
            "replies": selectors.sent_replies(complaint),
            "question": question,
            "form": form,
            "survey": survey,
            "survey_form": survey_form if survey is not None else None,
            "withdraw_form": withdraw_form if complaint.is_open else None,
            "main": complaint.merged_into,
            "max_files": settings.ATTACHMENT_MAX_COUNT,
        },
        status=400 if invalid else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


def _tracked_complaint(request: HttpRequest, code: str) -> Complaint | None:
    if not _may_see(request, code):
        return None
    return (
        Complaint.objects.select_related("category", "department", "merged_into")
        .filter(tracking_code=code)
        .first()
    )


@require_POST
def tracked_survey(request: HttpRequest, code: str) -> HttpResponse:
    """The survey, answered on the tracking page."""
    complaint = _tracked_complaint(request, code)
    if complaint is None:
        return redirect(f"{reverse('intake:track')}?code={code}")
    survey = surveys.current(complaint)
    if survey is None:
        messages.info(request, _("This survey is closed; thank you all the same."))
        return redirect("intake:tracked", code=code)
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return _tracked_page(request, complaint, survey_form=form)
    if _answered(form, survey.pk):
        messages.success(request, _("Thank you for your answer"))
    else:
        # Closed meanwhile (answered through the link, or the window ended): the page
        # would no longer show the form the error belongs to.
        messages.info(request, " ".join(str(error) for error in form.non_field_errors()))
    return redirect("intake:tracked", code=code)


def _answered(form: SurveyForm, survey_id: int) -> bool:
    try:
        survey = complaint_services.answer_survey(
            survey_id=survey_id,
            resolved=form.cleaned_data["resolved"],
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
            actor_label="petitioner",
        )
    except GuardFailed as error:
        form.add_error(None, str(error))
        return False
    return survey is not None


@require_POST
def tracked_withdraw(request: HttpRequest, code: str) -> HttpResponse:
    """The petitioner withdraws their complaint."""
    complaint = _tracked_complaint(request, code)
    if complaint is None:
        return redirect(f"{reverse('intake:track')}?code={code}")
    if not complaint.is_open:
        # The page shows no withdraw form now, so an error on it would not be seen.
        messages.info(request, _("This matter is already finished; it cannot be withdrawn."))
        return redirect("intake:tracked", code=code)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            complaint_services.withdraw(
                complaint_id=complaint.pk,
                reason=form.cleaned_data["reason"],
                actor=None,
                actor_label="petitioner",
            )
        except (GuardFailed, InvalidTransition) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your matter is withdrawn. Thank you for telling us."))
            return redirect("intake:tracked", code=code)
    return _tracked_page(request, complaint, withdraw_form=form)


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the reply's e-mail or text message: read the reply, answer the survey."""
    found = surveys.find(token)
    if found is None:
        return render(request, "intake/survey.html", {"missing": True}, status=404)
    complaint = found.complaint
    posted = request.method == "POST"
    # Only an open survey takes answers: a closed one shows no form to correct.
    form = SurveyForm(request.POST if posted and found.is_open else None)
    answered_now = False
    if posted and found.answered_at is not None:
        # Answered already (a second tab, the back button): this answer is not taken.
        messages.info(request, _("This survey is closed; thank you all the same."))
    elif form.is_bound and form.is_valid():
        answered_now = _answered(form, found.pk)
        if answered_now:
            found.refresh_from_db()
    response = render(
        request,
        "intake/survey.html",
        {
            "survey": found,
            "complaint": complaint,
            "reply": found.reply,
            "form": form,
            "answered_now": answered_now,
        },
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/privacy.html")
