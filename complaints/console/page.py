"""The complaint page: everything about one complaint, and what this user may do now.

The actions are read from the state machine (the transitions possible now and permitted
to the user) and run through the same services as everywhere else, with the version the
user saw, so a page left open while someone else acted gets a clear conflict. Forms with
errors come back with the page; refusals from a service come back as a message.

With JavaScript, the side forms that leave the state alone (note, contact, plan) are sent
by htmx and answered in place (``_act_in_place``); everything else reloads the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import User
from complaints import (
    approvals,
    outreach,
    permissions,
    scanning,
    selectors,
    services,
    surveys,
)
from complaints.console.htmx import is_htmx, redirect_page
from complaints.console.widgets import quicken
from complaints.errors import DomainError
from complaints.files import Upload, checked_files
from complaints.forms import DeliveryForm, MultipleFileField, SurveyForm
from complaints.models import (
    OPEN_STATES,
    Attachment,
    CoHandlingTask,
    Complaint,
    Delivery,
    Reply,
    ReplyTemplate,
    Survey,
)
from complaints.privacy import petitioner_view
from notifications.delivery import absolute_url
from ops.params import ascii_int
from routing.models import Category, Department

# Event payload fields worth showing on the timeline, in this order: free text first,
# then facts shown as "label: value".
_TEXTS = ("body", "plan", "note", "question", "details", "reason", "task", "result", "comment")
_FACTS: dict[str, Any] = {
    "category": gettext_lazy("Category"),
    "priority": gettext_lazy("Priority"),
    "department": gettext_lazy("Department"),
    "assignee": gettext_lazy("Handler"),
    "into": gettext_lazy("Merged into"),
    "duplicate": gettext_lazy("Duplicate"),
    "stage": gettext_lazy("Stage"),
    "level": gettext_lazy("Level"),
    "delivery": gettext_lazy("Send by"),
    "rating": gettext_lazy("Satisfaction"),
    "outcome": gettext_lazy("Outcome"),
    "until": gettext_lazy("Until"),
}
# Other apps name how their codes read (``stage`` → "Whole cycle"): a registry, so that
# complaints need not import them.
DETAIL_LABELS: dict[str, Callable[[Any], str]] = {}
# The stages whose limit a handler may ask to move (filled by the SLA app).
EXTENDABLE_STAGES: set[str] = set()


# --- Side forms (not transitions) -------------------------------------------------------


class NoteForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Internal note"),
        help_text=gettext_lazy("Seen by staff only, including co-handling departments."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ContactForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Contact with the petitioner"),
        help_text=gettext_lazy("How you reached them (call, visit, message) and what was said."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PlanForm(forms.Form):
    plan = forms.CharField(
        label=gettext_lazy("Handling plan"), widget=forms.Textarea(attrs={"rows": 4})
    )


class DraftForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Reply to the petitioner"), widget=forms.Textarea(attrs={"rows": 6})
    )
    attachments = MultipleFileField(
        label=gettext_lazy("Files to send with the reply"),
        help_text=gettext_lazy("Sent with an e-mail reply; listed on the tracking page."),
    )

    def clean_attachments(self) -> list[Any]:
        # Judged by their bytes like every other door's files.
        try:
            return checked_files(
                [Upload.from_file(file) for file in self.cleaned_data["attachments"]]
            )
        except DomainError as error:
            raise forms.ValidationError(str(error)) from error


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("What should change?"),
        help_text=gettext_lazy("The author sees this and rewrites the reply."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CoHandlingForm(forms.Form):
    department = forms.ModelChoiceField(
        label=gettext_lazy("Co-handling department"),
        queryset=Department.objects.filter(is_active=True),
    )
    task = forms.CharField(
        label=gettext_lazy("Their task"), widget=forms.Textarea(attrs={"rows": 3})
    )
    due_at = forms.DateTimeField(
        label=gettext_lazy("Due"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )


class CoHandledForm(forms.Form):
    task = forms.IntegerField(widget=forms.HiddenInput)
    result = forms.CharField(
        label=gettext_lazy("What your department did"), widget=forms.Textarea(attrs={"rows": 3})
    )


# What each side action needs: its form, the service call, and whether the user may.
SIDE_FORMS: dict[str, type[forms.Form]] = {
    "note": NoteForm,
    "contact": ContactForm,
    "plan": PlanForm,
    "draft": DraftForm,
    "cohandle": CoHandlingForm,
    "cohandled": CoHandledForm,
    "return": ReturnForm,
    "deliver": DeliveryForm,
    "survey": SurveyForm,
}
# Side forms shown in the reply section rather than the side column.
REPLY_PANEL = frozenset({"return", "deliver", "survey"})
# Side forms answered in place when htmx sends them: they leave the state, the actions and
# the queues alone. The others change what the page offers, so the page reloads.
IN_PLACE = frozenset({"note", "contact", "plan"})


def _side_actions(complaint: Complaint, user: User, draft: Reply | None) -> set[str]:
    """The side actions ``user`` may take on ``complaint`` now."""
    allowed = set()
    can = permissions.can_act
    if can(user, complaint, "add_note"):
        allowed.add("note")
    if complaint.status in (*OPEN_STATES, Complaint.Status.REPLIED) and can(
        user, complaint, "request_info"
    ):
        allowed.add("contact")
    handling = (Complaint.Status.ASSIGNED, Complaint.Status.IN_PROGRESS)
    if complaint.status in handling and can(user, complaint, "draft_reply"):
        allowed.add("plan")
    if complaint.status == Complaint.Status.IN_PROGRESS and can(user, complaint, "draft_reply"):
        allowed.add("draft")
    if (
        complaint.status == Complaint.Status.IN_PROGRESS
        and draft is not None
        and not draft.returned_comment
        and can(user, complaint, "approve_reply")
        and _may_approve(complaint, draft, user)
    ):
        allowed.update({"approve", "return"})
    if complaint.status == Complaint.Status.REPLIED:
        last = complaint.replies.filter(sent_at__isnull=False).order_by("-sent_at").first()
        if (
            last is not None
            and last.delivered_at is None
            and last.delivery in (Delivery.LETTER, Delivery.ORAL)
            and can(user, complaint, "deliver_reply")
        ):
            allowed.add("deliver")
        if surveys.current(complaint) is not None and can(user, complaint, "record_survey"):
            allowed.add("survey")
    if complaint.status in (*handling, Complaint.Status.REOPENED) and can(
        user, complaint, "transfer"
    ):
        allowed.add("cohandle")
    if _my_open_task(complaint, user) is not None:
        allowed.add("cohandled")
    return allowed


def _may_approve(complaint: Complaint, draft: Reply, user: User) -> bool:
    """Whether ``user`` may give the next approval level the rules ask of ``draft`` now."""
    draft.required_levels = approvals.required_levels(complaint)
    try:
        approvals.check_approver(draft, user)
    except DomainError:
        return False
    return True


def _my_open_task(complaint: Complaint, user: User) -> CoHandlingTask | None:
    if user.department_id is None:
        return None
    return complaint.co_handling.filter(
        department_id=user.department_id, status=CoHandlingTask.Status.OPEN
    ).first()


# --- Reading ----------------------------------------------------------------------------


def _visible(request: HttpRequest, pk: int) -> Complaint:
    return permissions.complaint_or_404(
        request.user, pk, *permissions.PAGE_RELATIONS, request=request
    )


@dataclass(frozen=True)
class Clock:
    """One running limit, as the page shows it: how much is left, and in what colour."""

    deadline: Any
    state: str  # "ok", "warn", "late", "paused"
    left: timedelta

    @property
    def seconds(self) -> int:
        return int(self.left.total_seconds())

    @property
    def extendable(self) -> bool:
        return self.state != "paused" and self.deadline.stage in EXTENDABLE_STAGES


def clocks(complaint: Complaint, now: datetime) -> list[Clock]:
    result = []
    for deadline in complaint.deadlines.filter(state__in=["open", "paused"]).order_by("due_at"):
        if deadline.state == "paused":
            state = "paused"
        elif deadline.due_at <= now:
            state = "late"
        elif deadline.warn_at is not None and deadline.warn_at <= now:
            state = "warn"
        else:
            state = "ok"
        result.append(Clock(deadline, state, deadline.due_at - now))
    return result


@dataclass(frozen=True)
class Line:
    event: Any
    texts: list[str]
    facts: list[tuple[str, str]]

    @property
    def actor(self) -> str:
        """Who acted, for people: a staff member's name, or what the label stands for."""
        event = self.event
        if event.actor is not None:
            return str(event.actor.get_full_name() or event.actor.get_username())
        label = event.actor_label or ""
        if label.startswith("channel:"):
            channel = label.removeprefix("channel:")
            return str(dict(Complaint.Channel.choices).get(channel, channel))
        return str(_ACTORS.get(label, label))


_ACTORS = {
    "system": gettext_lazy("the system"),
    "routing": gettext_lazy("automatic routing"),
    "petitioner": gettext_lazy("the petitioner"),
    "survey": gettext_lazy("the satisfaction survey"),
}


def timeline(complaint: Complaint) -> list[Line]:
    events = list(complaint.events.select_related("actor").order_by("-created_at", "-id"))
    names = _names(events)
    lines = []
    for event in events:
        payload = event.payload or {}
        texts = [str(payload[k]) for k in _TEXTS if payload.get(k) not in (None, "", [])]
        facts = [
            (str(label), _fact(key, payload[key], names))
            for key, label in _FACTS.items()
            if payload.get(key) not in (None, "", [])
        ]
        lines.append(Line(event, texts, facts))
    return lines


def _names(events: list[Any]) -> dict[tuple[str, str], str]:
    """Readable names of the codes the events mention (categories, departments, users)."""
    payloads = [e.payload or {} for e in events]
    wanted = {key: {str(p[key]) for p in payloads if p.get(key)} for key in _FACTS}
    names: dict[tuple[str, str], str] = {}
    for category in Category.objects.filter(code__in=wanted["category"]):
        names["category", category.code] = category.name
    for department in Department.objects.filter(code__in=wanted["department"]):
        names["department", department.code] = department.name
    for user in User.objects.filter(username__in=wanted["assignee"]):
        names["assignee", user.username] = user.get_full_name() or user.username
    return names


def _fact(key: str, value: Any, names: dict[tuple[str, str], str]) -> str:
    if key == "priority":
        return str(dict(Complaint.Priority.choices).get(value, value))
    if key == "delivery":
        return str(dict(Delivery.choices).get(value, value))
    if key == "outcome":
        return str(dict(Survey.Outcome.choices).get(value, value))
    if key == "rating":
        return f"{value}/5"
    if key in DETAIL_LABELS:
        return DETAIL_LABELS[key](value)
    if key == "until":
        moment = parse_datetime(str(value))
        if moment is not None:
            return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return names.get((key, str(value)), str(value))


def _transition_forms(
    complaint: Complaint, user: User, bound: dict[str, forms.Form], draft: Reply | None
) -> list[tuple[str, str, forms.Form | None]]:
    result = []
    for transition in services.allowed_actions(complaint, user):
        name = transition.name
        if name == "reply" and (draft is None or not approvals.is_approved(draft)):
            continue  # nothing to send yet: offered once there is a (approved) draft
        if name == "close" and complaint.review_requested_at and not services.reviews(user):
            continue  # waiting for a supervisor's review: theirs to close
        path = transition.custom.get("form")
        form = bound.get(name) or (import_string(path)(prefix=name) if path else None)
        if name == "reply" and form is not None:
            _offer_deliveries(form, complaint)
        if form is not None and "assignee" in form.fields:
            quicken(form.fields["assignee"])  # every member of staff: drawn directly
        result.append((name, str(transition.custom.get("label", name)), form))
    return result


def _offer_deliveries(form: forms.Form, complaint: Complaint) -> None:
    """The ways this reply can go, the channel of origin's first and chosen."""
    labels = dict(Delivery.choices)
    field = form.fields["delivery"]
    field.choices = [(way, labels[way]) for way in outreach.possible_deliveries(complaint)]  # type: ignore[attr-defined]
    if not form.is_bound:
        form.initial["delivery"] = outreach.default_delivery(complaint)


def _context(
    request: HttpRequest, complaint: Complaint, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    user: User = request.user  # type: ignore[assignment]
    bound = bound or {}
    now = timezone.now()
    draft = complaint.replies.filter(sent_at__isnull=True).first()
    side = _side_actions(complaint, user, draft)
    templates = _templates(complaint) if "draft" in side else []
    chosen = next((t for t in templates if str(t.pk) == request.GET.get("template")), None)
    draft_text = chosen.render(complaint) if chosen else (draft.body if draft else None)
    side_forms = {
        name: bound.get(name)
        or form_class(
            prefix=name,
            initial={"body": draft_text} if name == "draft" and draft_text else None,
        )
        for name, form_class in SIDE_FORMS.items()
        if name in side
    }
    task = _my_open_task(complaint, user)
    if "cohandled" in side_forms and task is not None:
        side_forms["cohandled"].initial = {"task": task.pk}
    return {
        "complaint": complaint,
        "petitioner": petitioner_view(complaint, user),
        "attachments": complaint.attachments.order_by("created_at"),
        "clocks": clocks(complaint, now),
        "earlier": selectors.earlier_petitions(complaint),
        "repeats": complaint.duplicate_candidates.filter(status="pending").select_related(
            "original"
        ),
        "timeline": timeline(complaint),
        "actions": _transition_forms(complaint, user, bound, draft),
        "side": side_forms,
        "can_approve": "approve" in side,
        "draft": draft,
        "draft_state": approvals.waiting_label(draft) if draft is not None else "",
        "draft_decisions": draft.approvals.select_related("actor") if draft is not None else [],
        "good_replies": selectors.well_rated_replies(complaint) if "draft" in side else [],
        "replies": _sent_replies(complaint),
        "surveys": complaint.surveys.select_related("entered_by").order_by("round"),
        "reply_panel": REPLY_PANEL,
        "co_tasks": complaint.co_handling.select_related("department").order_by("due_at"),
        "my_task": task,
        "templates": templates,
        "chosen_template": chosen,
        "now": now,
        "version": complaint.version,  # what the page's forms send back
        "inline_side": IN_PLACE,
    }


@dataclass(frozen=True)
class SentReply:
    """A sent reply and how its delivery went."""

    reply: Reply
    # "delivered", "waiting" (outbox or staff), "failed"
    state: str
    error: str = ""


def _sent_replies(complaint: Complaint) -> list[SentReply]:
    from notifications.models import Notification

    failed = {
        outreach.reply_id_of(row.dedupe_key): row.last_error
        for row in Notification.objects.filter(
            complaint=complaint, kind="reply.sent", status=Notification.Status.FAILED
        )
    }
    result = []
    sent = complaint.replies.filter(sent_at__isnull=False).order_by("sent_at")
    # Each reply lists its files: one query for all of them, not one per reply.
    for reply in sent.prefetch_related("attachments"):
        if reply.delivered_at is not None:
            result.append(SentReply(reply, "delivered"))
        elif reply.pk in failed:
            result.append(SentReply(reply, "failed", failed[reply.pk]))
        else:
            result.append(SentReply(reply, "waiting"))
    return result


def _templates(complaint: Complaint) -> list[ReplyTemplate]:
    """Reply templates for this complaint's category (or any), in use."""
    return list(
        ReplyTemplate.objects.filter(is_active=True)
        .filter(Q(category__isnull=True) | Q(category_id=complaint.category_id))
        .order_by("name")
    )


@never_cache
@login_required(login_url="console:login")
def complaint(request: HttpRequest, pk: int) -> HttpResponse:
    found = _visible(request, pk)
    return render(request, "complaints/page.html", _context(request, found))


# --- Acting -----------------------------------------------------------------------------


@login_required(login_url="console:login")
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    found = _visible(request, pk)
    version = request.POST.get("version", "")
    expected = ascii_int(version)
    if action in IN_PLACE and is_htmx(request):
        return _act_in_place(request, found, action, expected)
    try:
        if action in services.SERVICE_FOR_ACTION:
            done, form = _transition(found, user, action, request.POST, expected)
        elif action in SIDE_FORMS or action == "approve":
            done, form = _side(found, user, action, request.POST, expected, request.FILES)
        else:
            raise Http404
    except DomainError as error:
        messages.error(request, str(error))
        return redirect_page(request, "console:complaint", pk=found.pk)
    if form is not None:  # invalid: the page again, with the form and its errors
        context = _context(request, found, {action: form})
        return render(request, "complaints/page.html", context, status=400)
    messages.success(request, done)
    if not permissions.visible_to(Complaint.objects.filter(pk=found.pk), user).exists():
        return redirect_page(request, "console:home")  # transferred out of this user's reach
    return redirect_page(request, "console:complaint", pk=found.pk)


def _act_in_place(
    request: HttpRequest, complaint: Complaint, action: str, seen: int | None
) -> HttpResponse:
    """A side form sent by htmx: its section again, and what it changed on the page.

    Notes, contacts and plans are recorded whatever the version (a plan moves it on), but
    the page's other forms send the version the user saw. If the page was current (``seen``
    is the version the entry started from), its version fields move to the one the entry
    left; if someone else had changed the complaint meanwhile, they keep the one the user
    saw, and the user is told: the next action from that page gets its honest conflict.
    """
    user: User = request.user  # type: ignore[assignment]
    versions = Complaint.objects.filter(pk=complaint.pk).values_list("version", flat=True)
    try:
        with transaction.atomic():
            # Hold the row, so that before and after belong to this entry alone.
            before = versions.select_for_update().get()
            done, form = _side(complaint, user, action, request.POST, None)
            after = versions.get()
    except DomainError as error:  # refused (the page is out of date): reload it
        messages.error(request, str(error))
        return redirect_page(request, "console:complaint", pk=complaint.pk)
    if form is not None:  # invalid: the section with its errors, nothing else changes
        context = _context(request, complaint, {action: form})
        context.update(name=action, form=form, version=seen)
        return render(request, "complaints/_side_update.html", context, status=422)

    complaint.refresh_from_db()
    current = seen == before
    context = _context(request, complaint)
    form = context["side"].get(action)
    if form is None:  # no longer offered to this user: the page has changed
        messages.success(request, done)
        return redirect_page(request, "console:complaint", pk=complaint.pk)
    context.update(name=action, form=form, done=done, version=after if current else seen)
    if seen is not None and not current:
        context["stale"] = _(
            "%(code)s was changed by someone else meanwhile. Your entry is saved; "
            "reload the page before you take an action."
        ) % {"code": complaint.tracking_code}
    return render(request, "complaints/_side_update.html", context)


def _transition(
    complaint: Complaint, user: User, action: str, data: Any, expected: int | None
) -> tuple[str, forms.Form | None]:
    transition = services.transition_of(action)
    path = transition.custom.get("form")
    arguments: dict[str, Any] = {}
    if path:
        form = import_string(path)(data, prefix=action)
        if not form.is_valid():
            return "", form
        arguments = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
    services.SERVICE_FOR_ACTION[action](
        complaint_id=complaint.pk, actor=user, expected_version=expected, **arguments
    )
    return _("%(action)s: done.") % {"action": services.action_label(action)}, None


def _side(
    complaint: Complaint,
    user: User,
    action: str,
    data: Any,
    expected: int | None,
    files: Any = None,
) -> tuple[str, forms.Form | None]:
    if action == "approve":
        draft = services.approve_reply(
            complaint_id=complaint.pk, actor=user, expected_version=expected
        )
        if approvals.is_approved(draft):
            return _("Reply approved: it can be sent."), None
        return _("Approved at your level; it now goes to a supervisor."), None
    form = SIDE_FORMS[action](data, files, prefix=action)
    if not form.is_valid():
        return "", form
    value = form.cleaned_data
    if action == "return":
        services.return_reply(
            complaint_id=complaint.pk,
            comment=value["comment"],
            actor=user,
            expected_version=expected,
        )
        return _("Reply sent back to its author."), None
    if action == "deliver":
        services.record_delivery(
            complaint_id=complaint.pk, note=value["note"], actor=user, expected_version=expected
        )
        return _("Delivery recorded."), None
    if action == "survey":
        services.answer_current_survey(
            complaint_id=complaint.pk,
            resolved=value["resolved"],
            rating=value["rating"],
            comment=value["comment"],
            actor=user,
        )
        return _("Survey answer recorded."), None
    if action == "note":
        services.add_note(complaint_id=complaint.pk, body=value["body"], actor=user)
        return _("Note added."), None
    if action == "contact":
        services.record_contact(complaint_id=complaint.pk, note=value["note"], actor=user)
        return _("Contact recorded."), None
    if action == "plan":
        services.record_plan(complaint_id=complaint.pk, plan=value["plan"], actor=user)
        return _("Handling plan recorded."), None
    if action == "draft":
        services.draft_reply(
            complaint_id=complaint.pk,
            body=value["body"],
            actor=user,
            expected_version=expected,
            attachments=value["attachments"],
        )
        return _("Reply saved as a draft."), None
    if action == "cohandle":
        services.request_co_handling(
            complaint_id=complaint.pk,
            department=value["department"],
            task=value["task"],
            due_at=value["due_at"],
            actor=user,
        )
        return _("Co-handling requested."), None
    task = complaint.co_handling.filter(pk=value["task"]).first()
    if task is None:
        raise Http404
    services.complete_co_handling(task_id=task.pk, result=value["result"], actor=user)
    return _("Your department's part is recorded as done."), None


# --- Attachments ------------------------------------------------------------------------


@login_required(login_url="console:login")
def attachment(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A file of a complaint the user may see, always as a download (never rendered)."""
    found = Attachment.objects.filter(pk=pk).first()
    if found is None or not found.file:  # anonymised: the file is gone, its row stays
        raise Http404
    _visible(request, found.complaint_id)
    try:
        return scanning.download_response(found, request=request)
    except scanning.AttachmentUnavailable as error:
        # Waiting for, or failing, its malware scan: say so on the complaint's page.
        messages.error(request, str(error))
        return redirect_page(request, "console:complaint", pk=found.complaint_id)


@login_required(login_url="console:login")
def reply_letter(request: HttpRequest, pk: int, reply_pk: int) -> HttpResponse:
    """The printable reply letter (PDF) of a reply that goes out by post.

    It carries the petitioner's name and address in full, so printing it counts as
    seeing their personal data: it needs that permission and is logged like a reveal.
    """
    from complaints import documents

    user: User = request.user  # type: ignore[assignment]
    found = _visible(request, pk)
    reply = found.replies.filter(pk=reply_pk, sent_at__isnull=False).first()
    if reply is None or reply.delivery != Delivery.LETTER:
        raise Http404
    try:
        services.reveal_personal_data(
            complaint_id=found.pk, reason=_("Reply letter printed"), actor=user
        )
    except DomainError as error:
        messages.error(request, str(error))
        return redirect_page(request, "console:complaint", pk=found.pk)
    survey = found.surveys.filter(reply=reply).first()
    link = ""
    if survey is not None and survey.is_open:
        link = absolute_url(outreach.survey_path(surveys.token_for(survey.pk)))
    content = documents.reply_letter_pdf(found, reply, survey_url=link)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{found.tracking_code}-reply.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
