"""Back-office pages for the e-mail channel: what arrived, and what could not be processed.

Both are records, not forms: an inbound e-mail is never edited, and a dead letter is only
retried (through ``intake.email.ingest.retry_dead_letter``, the same path as new mail) or
set aside as resolved. ``intake.admin`` imports this module to register them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from complaints.models import Complaint
from intake.email.ingest import RETRY_LATER, retry_dead_letter
from intake.models import DeadLetter, InboundEmail


class _Record(admin.ModelAdmin):
    """Rows the channel writes; people read them and never add or delete them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An inbound record is what makes a re-delivered message a duplicate, and a dead
        # letter is the only copy of its message: set aside, never deleted.
        return False


@admin.register(InboundEmail)
class InboundEmailAdmin(_Record):
    list_display = ("received_at", "outcome", "sender", "subject", "complaint", "reason")
    list_filter = ("outcome", "received_at")
    search_fields = ("message_id", "sender", "subject", "complaint__tracking_code")
    list_select_related = ("complaint",)
    date_hierarchy = "received_at"
    fields = ("message_id", "received_at", "outcome", "reason", "sender", "subject", "complaint")
    readonly_fields = fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(_Record):
    list_display = (
        "created_at",
        "channel",
        "summary",
        "attempts",
        "last_attempt_at",
        "resolved_at",
        "complaint",
    )
    list_filter = ("channel", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("summary", "message_id", "error")
    list_select_related = ("complaint",)
    fields = (
        "channel",
        "summary",
        "message_id",
        "created_at",
        "attempts",
        "last_attempt_at",
        "resolved_at",
        "complaint",
        "error",
        "message_text",
    )
    readonly_fields = fields
    actions = ["retry", "mark_resolved"]

    @admin.display(description=_("message"))
    def message_text(self, obj: DeadLetter) -> str:
        # Shown as text for reading; the bytes themselves stay untouched for a retry.
        return obj.as_bytes()[:20000].decode("utf-8", errors="replace")

    # Every field is read-only; changing a dead letter means acting on it, below.
    @admin.action(description=_("Retry the selected dead letters"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        done = failed = later = 0
        for letter in queryset.filter(resolved_at__isnull=True, channel=Complaint.Channel.EMAIL):
            result = retry_dead_letter(letter)
            if result.outcome == RETRY_LATER:
                later += 1
            elif result.dead_letter is not None and result.dead_letter.resolved_at is not None:
                done += 1
            else:
                failed += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d message processed.", "%(count)d messages processed.", done)
                % {"count": done},
                level=messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message failed again; see its error.",
                    "%(count)d messages failed again; see their errors.",
                    failed,
                )
                % {"count": failed},
                level=messages.ERROR,
            )
        if later:
            self.message_user(
                request,
                _("The database was not available; try again later."),
                level=messages.WARNING,
            )
        if not (done or failed or later):
            self.message_user(request, _("Nothing to retry."), level=messages.INFO)

    @admin.action(
        description=_("Mark the selected dead letters as resolved (no retry)"),
        permissions=["change"],
    )
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d dead letter set aside.", "%(count)d dead letters set aside.", count)
            % {"count": count},
            level=messages.SUCCESS,
        )
