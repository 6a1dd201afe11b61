"""Back-office view of the outbox: what went out, what is waiting, and what failed.

Rows are records, never edited by hand: the one thing to do with a failed delivery is to
fix its cause and retry it (``services.retry``). Filter by status "failed" to find them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications import services
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "channel",
        "kind",
        "recipient",
        "status",
        "attempts",
        "sent_at",
        "error",
    )
    list_filter = ("status", "channel", "kind", "created_at")
    search_fields = (
        "kind",
        "address",
        "subject",
        "dedupe_key",
        "user__username",
        "complaint__tracking_code",
    )
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    fields = (
        "channel",
        "kind",
        "user",
        "address",
        "language",
        "complaint",
        "subject",
        "body",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "last_error",
        "created_at",
        "sent_at",
        "read_at",
        "dedupe_key",
    )
    readonly_fields = fields
    actions = ["retry_now"]

    @admin.display(description=_("recipient"), ordering="address")
    def recipient(self, obj: Notification) -> str:
        return obj.recipient

    @admin.display(description=_("last error"))
    def error(self, obj: Notification) -> str:
        return Truncator(obj.last_error).chars(80)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Failed deliveries need a person; say so on every visit until they are dealt with.
        failed = Notification.objects.filter(status=Notification.Status.FAILED).count()
        if request.method == "GET" and failed and request.GET.get("status__exact") != "failed":
            self.message_user(
                request,
                format_html(
                    '{} <a href="?status__exact=failed">{}</a>',
                    ngettext(
                        "%(count)d notification could not be delivered.",
                        "%(count)d notifications could not be delivered.",
                        failed,
                    )
                    % {"count": failed},
                    _("Show them"),
                ),
                level=messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what was sent, and the guard against sending it twice

    @admin.action(description=_("Retry now (failed deliveries)"), permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = services.retry(queryset.values_list("pk", flat=True))
        if not count:
            self.message_user(request, _("None of them had failed."), level=messages.INFO)
            return
        self.message_user(
            request,
            ngettext(
                "%(count)d notification will be sent again.",
                "%(count)d notifications will be sent again.",
                count,
            )
            % {"count": count},
            level=messages.SUCCESS,
        )
