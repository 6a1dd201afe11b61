"""The ticket: a complaint, who sent it, what happened to it, and what came with it.

``Complaint.status`` is a protected django-fsm field: it changes only through the
transition methods below. Transitions are pure — they check their guards and set fields;
the service around them (``complaints.services``) locks the row, saves, writes the
``Event`` and queues side effects.
"""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import GET_STATE, FSMField, FSMModelMixin, transition

from complaints.errors import GuardFailed
from complaints.permissions import transition_permission


class Petitioner(models.Model):
    """The person or organisation who complains (信访人). Holds personal data."""

    class Type(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        ORGANISATION = "organisation", _("Organisation")
        EMPLOYEE = "employee", _("Employee")
        PARTNER = "partner", _("Partner")

    type = models.CharField(
        _("petitioner type"), max_length=20, choices=Type, default=Type.INDIVIDUAL
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=100, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, db_index=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    id_number = models.CharField(_("ID number"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("petitioner")
        verbose_name_plural = _("petitioners")
        indexes = [
            # The same person by ID number (complaints.selectors.same_petitioner); most
            # petitioners give none.
            models.Index(
                fields=["id_number"], condition=~models.Q(id_number=""), name="petitioner_id_number"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.organisation or str(_("Anonymous"))


class ContactPreference(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("Text message")
    EMAIL = "email", _("E-mail")
    POST = "post", _("Post")
    NONE = "none", _("Do not contact me")


OPEN_STATES = ("received", "needs_info", "classified", "assigned", "in_progress", "reopened")
FINISHED_STATES = ("closed", "rejected", "merged", "withdrawn")


class CloseReason(models.TextChoices):
    """Why a replied complaint was closed."""

    SURVEY = "survey", _("survey answered")
    NO_RESPONSE = "no_response", _("no answer to the survey")
    STAFF = "staff", _("closed by staff")
    REVIEWED = "reviewed", _("closed after a supervisor's review")


class Supervision(models.TextChoices):
    """督办: a complaint whose limit passed is supervised; red once escalated further."""

    NONE = "", _("not supervised")
    YELLOW = "yellow", _("supervised (yellow)")
    RED = "red", _("supervised (red)")


class Complaint(FSMModelMixin, models.Model):
    """One complaint (or suggestion, inquiry, …) from any channel, and where it stands."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        NEEDS_INFO = "needs_info", _("Needs information")
        CLASSIFIED = "classified", _("Classified")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        REPLIED = "replied", _("Replied")
        CLOSED = "closed", _("Closed")
        ARCHIVED = "archived", _("Archived")
        REOPENED = "reopened", _("Reopened")
        REJECTED = "rejected", _("Rejected")
        MERGED = "merged", _("Merged")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Priority(models.TextChoices):
        NORMAL = "normal", _("Normal")
        URGENT = "urgent", _("Urgent")
        CRITICAL = "critical", _("Critical")

    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        SUGGESTION = "suggestion", _("Suggestion")
        INQUIRY = "inquiry", _("Inquiry")
        HELP = "help", _("Request for help")
        REPORT = "report", _("Report of misconduct")
        PRAISE = "praise", _("Praise")

    class Channel(models.TextChoices):
        WEB = "web", _("Web portal")
        HOTLINE = "hotline", _("Phone hotline")
        WALK_IN = "walk_in", _("Walk-in window")
        LETTER = "letter", _("Letter")
        EMAIL = "email", _("E-mail")
        WECHAT = "wechat", _("WeChat")
        APP = "app", _("Mobile app")
        API = "api", _("Integration (API)")
        OPEN311 = "open311", _("Open311")

    tracking_code = models.CharField(_("tracking code"), max_length=20, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind, default=Kind.COMPLAINT)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel, db_index=True)
    external_ref = models.CharField(
        _("channel reference"),
        max_length=255,
        blank=True,
        help_text=_("The channel's own identifier (letter number, call id, message id)."),
    )
    title = models.CharField(_("title"), max_length=200)
    content = models.TextField(_("content"))
    location = models.CharField(_("location"), max_length=300, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    occurred_at = models.DateTimeField(_("happened"), null=True, blank=True)
    # Marked by a sensitive keyword rule: shown only to people who need to see it.
    is_sensitive = models.BooleanField(_("sensitive"), default=False)
    # The petitioner asked to stay anonymous: their identity is hidden from handlers.
    is_anonymous = models.BooleanField(_("anonymous"), default=False)
    contact_preference = models.CharField(
        _("preferred contact"), max_length=10, choices=ContactPreference, blank=True
    )
    privacy_consent_at = models.DateTimeField(_("privacy notice accepted"), null=True, blank=True)
    # What a channel sent beyond the common fields (Open311 attributes, device id, …).
    channel_data = models.JSONField(_("channel data"), default=dict, blank=True)
    petitioner = models.ForeignKey(
        Petitioner,
        verbose_name=_("petitioner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )

    status = FSMField(
        _("status"), max_length=20, choices=Status, default=Status.RECEIVED, protected=True
    )
    # While waiting for the petitioner, the state to go back to when the details arrive.
    resume_status = models.CharField(max_length=20, choices=Status, blank=True, editable=False)
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority, default=Priority.NORMAL
    )
    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_complaints",
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
    )

    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Bumped by every service that changes the complaint; a client that sends the version
    # it saw gets a Conflict instead of overwriting someone else's change.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    # Set by the SLA engine: since when a limit of this complaint has passed, and whether
    # it is supervised (督办) after an escalation: yellow at the first level, red above.
    # System flags, so they do not bump ``version``.
    overdue_since = models.DateTimeField(_("overdue since"), null=True, blank=True, editable=False)
    supervision = models.CharField(
        _("supervision"), max_length=10, choices=Supervision, blank=True, editable=False
    )

    # Closing the loop: how often the petitioner was not satisfied (二次办理), whether a
    # second dissatisfaction waits for a supervisor's review, and why it closed.
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0, editable=False)
    review_requested_at = models.DateTimeField(
        _("review requested"), null=True, blank=True, editable=False
    )
    close_reason = models.CharField(
        _("closed because"), max_length=20, choices=CloseReason, blank=True, editable=False
    )
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True, editable=False)
    # Personal data removed after the retention period or on an erasure request; the
    # complaint stays for the statistics.
    anonymised_at = models.DateTimeField(_("anonymised"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "department"], name="complaint_status_dept"),
            models.Index(fields=["assignee", "status"], name="complaint_assignee_status"),
            # The queues work on open complaints, a few percent of the table: a department's
            # (with the ids, so that the queue's order is read from the index alone), and
            # the newest first.
            models.Index(
                fields=["department", "id"],
                condition=models.Q(status__in=OPEN_STATES),
                name="complaint_open_department",
            ),
            models.Index(
                fields=["-received_at", "-id"],
                condition=models.Q(status__in=OPEN_STATES),
                name="complaint_open_newest",
            ),
            # Repeated petitions about one place (routing.duplicates), the newest first.
            models.Index(
                fields=["location", "-received_at"],
                condition=~models.Q(location=""),
                name="complaint_location_newest",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_ref"],
                condition=~models.Q(external_ref=""),
                name="complaint_unique_channel_ref",
            )
        ]
        permissions = [
            ("register_complaint", _("Can register complaints for petitioners")),
            ("classify_complaint", _("Can classify complaints")),
            ("assign_complaint", _("Can assign complaints")),
            ("accept_complaint", _("Can accept complaints for handling")),
            ("transfer_complaint", _("Can transfer complaints")),
            ("send_back_complaint", _("Can return misrouted complaints")),
            ("request_info_complaint", _("Can ask petitioners for missing details")),
            ("supply_info_complaint", _("Can record details supplied by petitioners")),
            ("draft_reply_complaint", _("Can draft replies")),
            ("approve_reply_complaint", _("Can approve replies")),
            ("reply_complaint", _("Can send replies")),
            ("close_complaint", _("Can close complaints")),
            ("reopen_complaint", _("Can reopen complaints")),
            ("reject_complaint", _("Can reject complaints")),
            ("merge_complaint", _("Can merge duplicate complaints")),
            ("withdraw_complaint", _("Can withdraw complaints for petitioners")),
            ("archive_complaint", _("Can archive complaints")),
            ("add_note_complaint", _("Can add notes to complaints")),
            ("access_all_departments", _("Can reach complaints of every department")),
            ("manage_department", _("Can manage all complaints of own department")),
            ("view_personal_data", _("Can see petitioners' personal data unmasked")),
            ("view_audit_log", _("Can read the audit log")),
            ("request_extension_complaint", _("Can ask for more time (extension)")),
            ("decide_extension_complaint", _("Can approve or refuse extensions")),
            ("record_survey_complaint", _("Can enter survey answers taken by phone")),
            ("deliver_reply_complaint", _("Can record letters posted and oral replies given")),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def takes_entries(self) -> bool:
        """New notes, details and files are taken: not archived, not anonymised (entries
        would bring personal data back)."""
        return self.status != self.Status.ARCHIVED and self.anonymised_at is None

    # --- Transitions ------------------------------------------------------------------
    # Each one: sources → target, a permission (role and scope), and guards that raise
    # GuardFailed with a message for the user. Arguments are keyword-only.

    @transition(
        field=status,
        source=Status.RECEIVED,
        target=Status.CLASSIFIED,
        permission=transition_permission("classify"),
        custom={"label": _("Classify"), "form": "complaints.forms.ClassifyForm"},
    )
    def classify(self, *, category: Any, priority: str, kind: str | None = None) -> None:
        if category is None:
            raise GuardFailed(_("Choose a category to classify the complaint."))
        if not category.is_active:
            raise GuardFailed(
                _("The category “%(name)s” is no longer in use.") % {"name": category}
            )
        if priority not in self.Priority.values:
            raise GuardFailed(_("Choose a valid priority."))
        self.category = category
        self.priority = priority
        if kind:
            self.kind = kind
        if self.department_id is None and category.default_department_id:
            self.department_id = category.default_department_id

    @transition(
        field=status,
        source=[
            Status.RECEIVED,
            Status.CLASSIFIED,
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.REOPENED,
        ],
        target=Status.NEEDS_INFO,
        permission=transition_permission("request_info"),
        custom={"label": _("Ask for details"), "form": "complaints.forms.RequestInfoForm"},
    )
    def request_info(self, *, question: str) -> None:
        if not (question or "").strip():
            raise GuardFailed(_("Say which details are missing."))
        self.resume_status = self.status

    def _state_after_info(self, **kwargs: Any) -> str:
        # django-fsm asks for the target after the transition body has run.
        target = self.resume_status or self.Status.RECEIVED
        self.resume_status = ""
        return target

    @transition(
        field=status,
        source=Status.NEEDS_INFO,
        target=GET_STATE(
            _state_after_info,
            states=[
                Status.RECEIVED,
                Status.CLASSIFIED,
                Status.ASSIGNED,
                Status.IN_PROGRESS,
                Status.REOPENED,
            ],
        ),
        permission=transition_permission("supply_info"),
        custom={"label": _("Record supplied details"), "form": "complaints.forms.SupplyInfoForm"},
    )
    def supply_info(self, *, details: str) -> None:
        if not (details or "").strip():
            raise GuardFailed(_("Enter the details the petitioner supplied."))

    @transition(
        field=status,
        source=Status.CLASSIFIED,
        target=Status.ASSIGNED,
        permission=transition_permission("assign"),
        custom={"label": _("Assign"), "form": "complaints.forms.AssignForm"},
    )
    def assign(self, *, department: Any, assignee: Any = None) -> None:
        self._set_handling_unit(department, assignee)

    @transition(
        field=status,
        source=[Status.ASSIGNED, Status.IN_PROGRESS],
        target=Status.ASSIGNED,
        permission=transition_permission("transfer"),
        custom={"label": _("Transfer"), "form": "complaints.forms.TransferForm"},
    )
    def transfer(self, *, department: Any, assignee: Any = None, reason: str) -> None:
        if not (reason or "").strip():
            raise GuardFailed(_("Give a reason for the transfer."))
        if department == self.department and (assignee is None or assignee == self.assignee):
            raise GuardFailed(_("Choose another department or handler to transfer to."))
        self._set_handling_unit(department, assignee)

    def _set_handling_unit(self, department: Any, assignee: Any) -> None:
        if department is None:
            raise GuardFailed(_("Choose a department."))
        if not department.is_active:
            raise GuardFailed(
                _("The department “%(name)s” is no longer active.") % {"name": department}
            )
        if assignee is not None and (
            not assignee.is_active or assignee.department_id != department.pk
        ):
            raise GuardFailed(
                _("%(person)s is not an active member of %(department)s.")
                % {
                    "person": assignee.get_full_name() or assignee.get_username(),
                    "department": department,
                }
            )
        self.department = department
        self.assignee = assignee

    @transition(
        field=status,
        source=Status.ASSIGNED,
        target=Status.CLASSIFIED,
        permission=transition_permission("send_back"),
        custom={"label": _("Return as misrouted"), "form": "complaints.forms.ReasonForm"},
    )
    def send_back(self, *, reason: str) -> None:
        if not (reason or "").strip():
            raise GuardFailed(_("Say why the complaint does not belong to this department."))
        self.department = None
        self.assignee = None

    @transition(
        field=status,
        source=[Status.ASSIGNED, Status.REOPENED],
        target=Status.IN_PROGRESS,
        permission=transition_permission("accept"),
        custom={"label": _("Accept")},
    )
    def accept(self, *, handler: Any = None) -> None:
        if self.assignee_id is None:
            if handler is None:
                raise GuardFailed(_("Nobody is assigned to handle this complaint."))
            if handler.department_id != self.department_id:
                raise GuardFailed(_("Only a member of the assigned department can accept it."))
            self.assignee = handler

    @transition(
        field=status,
        source=Status.IN_PROGRESS,
        target=Status.REPLIED,
        permission=transition_permission("reply"),
        custom={"label": _("Send reply"), "form": "complaints.forms.SendReplyForm"},
    )
    def reply(self, *, reply: Any) -> None:
        if reply is None or not reply.body.strip():
            raise GuardFailed(_("Write the reply before sending it."))
        if reply.approved_level < reply.required_levels:
            raise GuardFailed(_("This reply must be approved before it is sent."))
        self.replied_at = timezone.now()

    @transition(
        field=status,
        source=Status.REPLIED,
        target=Status.CLOSED,
        permission=transition_permission("close"),
        custom={"label": pgettext_lazy("complaint action", "Close")},
    )
    def close(self, *, reason: str = CloseReason.STAFF) -> None:
        self.closed_at = timezone.now()
        self.close_reason = reason
        self.review_requested_at = None

    @transition(
        field=status,
        source=Status.REPLIED,
        target=Status.REOPENED,
        permission=transition_permission("reopen"),
        custom={"label": _("Reopen"), "form": "complaints.forms.ReasonForm"},
    )
    def reopen(self, *, reason: str) -> None:
        if not (reason or "").strip():
            raise GuardFailed(_("Say why the petitioner is not satisfied."))
        self.replied_at = None
        self.reopen_count += 1
        self.review_requested_at = None

    @transition(
        field=status,
        source=[Status.RECEIVED, Status.CLASSIFIED],
        target=Status.REJECTED,
        permission=transition_permission("reject"),
        custom={"label": _("Reject"), "form": "complaints.forms.ReasonForm"},
    )
    def reject(self, *, reason: str) -> None:
        if not (reason or "").strip():
            raise GuardFailed(_("Give the reason for rejecting; the petitioner will see it."))
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=[Status.RECEIVED, Status.CLASSIFIED],
        target=Status.MERGED,
        permission=transition_permission("merge"),
        custom={"label": _("Merge as duplicate"), "form": "complaints.forms.MergeForm"},
    )
    def merge(self, *, into: Any) -> None:
        if into is None:
            raise GuardFailed(_("Choose the complaint this one duplicates."))
        if into.pk == self.pk:
            raise GuardFailed(_("A complaint cannot be merged into itself."))
        if into.status in (self.Status.MERGED, self.Status.ARCHIVED, *FINISHED_STATES):
            raise GuardFailed(
                _("%(code)s is already finished; merge into an open complaint.")
                % {"code": into.tracking_code}
            )
        self.merged_into = into
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=list(OPEN_STATES),
        target=Status.WITHDRAWN,
        permission=transition_permission("withdraw"),
        custom={"label": _("Withdraw"), "form": "complaints.forms.ReasonForm"},
    )
    def withdraw(self, *, reason: str = "") -> None:
        self.closed_at = timezone.now()

    @transition(
        field=status,
        source=list(FINISHED_STATES),
        target=Status.ARCHIVED,
        permission=transition_permission("archive"),
        custom={"label": _("Archive")},
    )
    def archive(self) -> None:
        self.archived_at = timezone.now()


def attachment_path(instance: Attachment, filename: str) -> str:
    # Stored under a random name: the user's file name is kept in the row, never used
    # as a path.
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    class Scan(models.TextChoices):
        """Where the malware scan (complaints.scanning) stands; staff open clean or not
        scanned files only."""

        PENDING = "pending", _("Waiting for the malware scan")
        CLEAN = "clean", _("Scanned: clean")
        INFECTED = "infected", _("Malware found: quarantined")
        FAILED = "failed", _("Could not be scanned")
        NOT_SCANNED = "not_scanned", _("Not scanned (no scanner configured)")

    # Statuses whose bytes may be opened or sent (the rest: waiting, quarantined, failed).
    OPENABLE = frozenset({Scan.CLEAN, Scan.NOT_SCANNED})

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("media type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    # Sent with a reply (the handler attached it to the answer), not received.
    reply = models.ForeignKey(
        "Reply",
        verbose_name=_("reply"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
    )
    # Shown inside an e-mail's body (cid:) rather than attached by the sender.
    is_inline = models.BooleanField(_("inline image"), default=False)
    content_id = models.CharField(_("content id"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    # Files stored before scanning existed, or while it is off, are "not scanned".
    scan_status = models.CharField(
        _("malware scan"), max_length=20, choices=Scan.choices, default=Scan.NOT_SCANNED
    )
    # The signature clamd found (infected) or why it could not scan (failed).
    scan_result = models.CharField(_("scan result"), max_length=255, blank=True)
    scanned_at = models.DateTimeField(_("scanned"), null=True, blank=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]
        indexes = [
            # The sweep finds files still waiting (clamd was down, a task was lost).
            models.Index(
                fields=["created_at"],
                condition=models.Q(scan_status="pending"),
                name="attachment_scan_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def openable(self) -> bool:
        """May staff open these bytes, or may they be sent on? Only once the scan cleared
        them (or no scanner is configured)."""
        return self.scan_status in self.OPENABLE


class Delivery(models.TextChoices):
    """How a reply reaches the petitioner: the channel of origin, where it can carry one."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message with a link")
    LETTER = "letter", _("Printed letter")
    ORAL = "oral", _("Oral reply (phone or in person)")
    PORTAL = "portal", _("Tracking page and integration")


class Reply(models.Model):
    """The answer to the petitioner: drafted, approved when needed, then sent.

    ``approved_level`` counts the approval levels the current text has passed (department
    head = 1, supervisor = 2); rewriting the text starts again at 0. ``approved_at`` is set
    once every required level has approved. A reply sent back carries the approver's
    comment until it is rewritten.
    """

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="replies"
    )
    body = models.TextField(_("reply"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    # Levels the reply needs (complaints.approvals.required_levels, computed when drafted
    # and again when sent) and levels its current text has passed.
    required_levels = models.PositiveSmallIntegerField(_("approval levels needed"), default=0)
    approved_level = models.PositiveSmallIntegerField(_("approval levels passed"), default=0)
    returned_comment = models.TextField(_("sent back with"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivery = models.CharField(_("delivered by"), max_length=10, choices=Delivery, blank=True)
    # Letters and oral replies are delivered by people: they record when and how.
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    delivery_note = models.TextField(_("delivery record"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["created_at", "id"]
        constraints = [
            # One unsent draft at a time; a new round (after reopening) starts a new one.
            models.UniqueConstraint(
                fields=["complaint"],
                condition=models.Q(sent_at__isnull=True),
                name="reply_one_draft_per_complaint",
            )
        ]

    def __str__(self) -> str:
        return self.body[:60]


class ReplyApproval(models.Model):
    """One approver's decision on one text of a reply, at one level."""

    class Decision(models.TextChoices):
        APPROVED = "approved", _("approved")
        RETURNED = "returned", _("sent back")

    reply = models.ForeignKey(
        Reply, verbose_name=_("reply"), on_delete=models.PROTECT, related_name="approvals"
    )
    level = models.PositiveSmallIntegerField(_("level"))
    decision = models.CharField(_("decision"), max_length=10, choices=Decision)
    comment = models.TextField(_("comment"), blank=True)
    # The text decided on, so the record stays true after the draft is rewritten.
    body_sha256 = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approver"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), default=timezone.now)

    class Meta:
        verbose_name = _("reply approval")
        verbose_name_plural = _("reply approvals")
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.reply_id} L{self.level} {self.decision}"


class ApprovalRule(models.Model):
    """Replies that need approval beyond the built-in rule, and how many levels.

    Built in: urgent, critical and sensitive complaints need the department head's
    approval (one level). A rule adds categories (with their sub-categories), kinds or
    priorities, and may ask for a second level (a supervisor). The most levels of all
    matching rules apply.
    """

    name = models.CharField(pgettext_lazy("rule", "name"), max_length=100)
    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: every category."),
    )
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=Complaint.Kind,
        blank=True,
        help_text=_("Empty: every kind."),
    )
    priority = models.CharField(
        _("priority"),
        max_length=10,
        choices=Complaint.Priority,
        blank=True,
        help_text=_("Empty: every priority."),
    )
    levels = models.PositiveSmallIntegerField(
        _("approval levels"),
        default=1,
        choices=[(1, _("Department head")), (2, _("Department head, then a supervisor"))],
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("approval rule")
        verbose_name_plural = _("approval rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Survey(models.Model):
    """The satisfaction follow-up (回访) after one reply: one per round of handling.

    The petitioner answers through a link with a token (its hash is stored), or staff
    enter the answer of a phone call. Without an answer by ``closes_at`` the complaint
    closes as "no response".
    """

    class Via(models.TextChoices):
        LINK = "link", _("online, through the link")
        PHONE = "phone", _("by phone, entered by staff")

    class Outcome(models.TextChoices):
        SATISFIED = "satisfied", _("satisfied")
        DISSATISFIED = "dissatisfied", _("not satisfied")
        NO_RESPONSE = "no_response", _("no response")

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="surveys"
    )
    round = models.PositiveSmallIntegerField(_("round"))
    reply = models.ForeignKey(
        Reply, verbose_name=_("reply"), on_delete=models.PROTECT, related_name="surveys"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    closes_at = models.DateTimeField(_("open until"), db_index=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    via = models.CharField(_("answered"), max_length=10, choices=Via, blank=True)
    resolved = models.BooleanField(_("resolved"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome, blank=True)

    class Meta:
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        ordering = ["complaint", "round"]
        constraints = [
            models.UniqueConstraint(fields=["complaint", "round"], name="survey_one_per_round"),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="survey_rating_1_to_5",
            ),
        ]
        indexes = [
            models.Index(
                fields=["closes_at"],
                condition=models.Q(outcome=""),
                name="survey_waiting",
            ),
            # The newest well-rated replies, offered to a handler drafting one
            # (complaints.selectors.well_rated_replies).
            models.Index(
                fields=["-answered_at"],
                condition=models.Q(rating__gte=4, resolved=True),
                name="survey_well_rated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} #{self.round}"

    @property
    def is_open(self) -> bool:
        return not self.outcome


class DataRequest(models.Model):
    """A petitioner's request about their personal data: a copy of it, or its erasure.

    Staff record the request after checking who asks (the tracking code and secret, or an
    ID seen at the window), and decide it; every step is on the complaints' timelines.
    """

    class Kind(models.TextChoices):
        EXPORT = "export", _("copy of my data")
        ERASURE = "erasure", _("erase my data")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        REFUSED = "refused", _("refused")

    kind = models.CharField(_("request"), max_length=10, choices=Kind)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OPEN)
    petitioner = models.ForeignKey(
        Petitioner,
        verbose_name=_("petitioner"),
        on_delete=models.PROTECT,
        related_name="data_requests",
    )
    verified_by = models.CharField(
        _("identity checked by"),
        max_length=200,
        help_text=_("How the requester proved who they are: tracking code and secret, ID card…"),
    )
    note = models.TextField(_("note"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)

    class Meta:
        verbose_name = _("personal data request")
        verbose_name_plural = _("personal data requests")
        ordering = ["-received_at", "-id"]
        permissions = [("decide_datarequest", _("Can decide personal data requests"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class CoHandlingTask(models.Model):
    """A part of a complaint that another department handles (协办), by its own deadline.

    The complaint's department leads; each co-handling department gets a task, answers
    it, and the lead department writes the one reply.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="co_handling"
    )
    department = models.ForeignKey(
        "routing.Department",
        verbose_name=_("co-handling department"),
        on_delete=models.PROTECT,
        related_name="co_handling_tasks",
    )
    task = models.TextField(_("task"))
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OPEN)
    result = models.TextField(_("result"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)

    class Meta:
        verbose_name = _("co-handling task")
        verbose_name_plural = _("co-handling tasks")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "department"],
                condition=models.Q(status="open"),
                name="cohandling_one_open_task_per_department",
            )
        ]

    def __str__(self) -> str:
        return f"{self.department}: {self.task[:40]}"


# How each kind of event reads on a timeline; unknown kinds show their dotted name.
EVENT_LABELS = {
    "complaint.received": _("Received"),
    "complaint.classified": _("Classified"),
    "complaint.info_requested": _("Details requested"),
    "complaint.info_supplied": _("Details supplied"),
    "complaint.assigned": _("Assigned"),
    "complaint.transferred": _("Transferred"),
    "complaint.returned": _("Returned as misrouted"),
    "complaint.accepted": _("Accepted"),
    "complaint.replied": _("Reply sent"),
    "complaint.closed": _("Closed"),
    "complaint.reopened": _("Reopened"),
    "complaint.rejected": _("Rejected"),
    "complaint.merged": _("Merged as duplicate"),
    "complaint.duplicate_merged": _("Duplicate merged in"),
    "complaint.duplicate_dismissed": _("Not a duplicate"),
    "complaint.marked_sensitive": _("Marked sensitive"),
    "complaint.withdrawn": _("Withdrawn"),
    "complaint.archived": _("Archived"),
    "complaint.note_added": _("Note"),
    "cohandling.requested": _("Co-handling requested"),
    "cohandling.completed": _("Co-handling done"),
    "complaint.supplemented": _("Petitioner added information"),
    "attachment.added": _("Attachment added"),
    "attachment.quarantined": _("Attachment quarantined (malware found)"),
    "reply.drafted": _("Reply drafted"),
    "reply.approved": _("Reply approved"),
    "reply.returned": _("Reply sent back"),
    "reply.delivered": _("Reply delivered"),
    "survey.answered": _("Satisfaction survey answered"),
    "survey.expired": _("No answer to the survey"),
    "complaint.review_requested": _("Not satisfied again: supervisor review"),
    "personal_data.exported": _("Personal data exported"),
    "personal_data.anonymised": _("Personal data anonymised"),
    "data_request.received": _("Personal data request received"),
    "data_request.decided": _("Personal data request decided"),
    "complaint.plan_recorded": _("Handling plan"),
    "complaint.petitioner_contacted": _("Petitioner contacted"),
    "routing.critical_suggested": _("Looks critical: waiting for a dispatcher"),
    "sla.warned": _("Time limit warning"),
    "sla.escalated": _("Escalated: time limit passed"),
    "sla.emergency_alerted": _("On-call leaders alerted"),
    "sla.extension_requested": _("More time asked for"),
    "sla.extension_approved": _("Extension approved"),
    "sla.extension_refused": _("Extension refused"),
    "personal_data.viewed": _("Personal data viewed"),
    "petitioner.updated": _("Petitioner's details completed"),
}


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Events are append-only")


class Event(models.Model):
    """One line of a complaint's timeline and of the audit log. Append-only.

    ``kind`` is a dotted name (``complaint.assigned``, ``reply.approved``,
    ``personal_data.viewed``). The database refuses updates and deletes too (a trigger,
    see the migration), so the trail holds even against a stray query.
    """

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(_("event"), max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who acted when there is no staff user: "system", "petitioner", "channel:wechat", …
    actor_label = models.CharField(_("acting as"), max_length=100, blank=True)
    from_state = models.CharField(_("from"), max_length=20, choices=Complaint.Status, blank=True)
    to_state = models.CharField(_("to"), max_length=20, choices=Complaint.Status, blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["complaint", "created_at"], name="event_complaint_time")]

    def __str__(self) -> str:
        return f"{self.kind_label} @ {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Events are append-only")

    @property
    def kind_label(self) -> str:
        return str(EVENT_LABELS.get(self.kind, self.kind))


class SavedFilter(models.Model):
    """A console queue view someone saved under a name: the query string of the queue page."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        on_delete=models.CASCADE,
        related_name="saved_filters",
    )
    name = models.CharField(pgettext_lazy("saved filter", "name"), max_length=100)
    query = models.CharField(_("query"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="savedfilter_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ReplyTemplate(models.Model):
    """A standard reply (答复模板) handlers start from; administrators keep them.

    ``body`` may use ``{code}`` (the tracking code), ``{title}``, ``{received}`` (the date
    received) and ``{department}``; the handler edits the result before it goes out.
    """

    class Language(models.TextChoices):
        CHINESE = "zh-hans", _("Simplified Chinese")
        ENGLISH = "en", _("English")

    name = models.CharField(pgettext_lazy("reply template", "name"), max_length=100)
    category = models.ForeignKey(
        "routing.Category",
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: offered for every category."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=Language, default=Language.CHINESE
    )
    body = models.TextField(
        _("text"),
        help_text=_(
            "May use {code} (tracking code), {title}, {received} (date received) and {department}."
        ),
    )
    is_active = models.BooleanField(_("in use"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def render(self, complaint: Complaint) -> str:
        """The text for ``complaint``; unknown or malformed placeholders stay as written."""
        values = {
            "code": complaint.tracking_code,
            "title": complaint.title,
            "received": timezone.localtime(complaint.received_at).date().isoformat(),
            "department": str(complaint.department or ""),
        }
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), self.body)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
