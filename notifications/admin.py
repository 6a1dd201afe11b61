"""Back-office view of the outbox: what went out, what is waiting, and what failed.

Rows are records, never edited by hand: the one thing to do with a failed delivery is to
fix its cause and retry it (``services.retry``). Filter by status "failed" to find them.

Webhook subscriptions are kept here too; their deliveries are outbox rows (filter the
outbox by webhook), with the receiver's HTTP status.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from notifications import services, webhooks
from notifications.models import Notification, WebhookSubscription

RECENT_DELIVERIES = 20


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "channel",
        "kind",
        "recipient",
        "status",
        "attempts",
        "response_status",
        "sent_at",
        "error",
    )
    list_filter = ("status", "channel", "kind", "webhook", "created_at")
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
        "webhook",
        "response_status",
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


class WebhookSubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=pgettext_lazy("webhook", "events"),
        choices=WebhookSubscription.EventType.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "events", "client", "department", "is_active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Integrations' webhooks. The secret is shown once, when made or rotated."""

    form = WebhookSubscriptionForm
    list_display = (
        "name",
        "url",
        "event_list",
        "client",
        "department",
        "is_active",
        "last_delivery",
    )
    list_filter = ("is_active", "client", "department")
    search_fields = ("name", "url")
    list_select_related = ("client", "department")
    fields = (
        "name",
        "url",
        "events",
        "client",
        "department",
        "is_active",
        "secret_hint",
        "created_by",
        "created_at",
        "updated_at",
        "recent_deliveries",
    )
    readonly_fields = (
        "secret_hint",
        "created_by",
        "created_at",
        "updated_at",
        "recent_deliveries",
    )
    actions = ["send_ping", "rotate_secret", "deactivate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookSubscription]:
        last = Notification.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(last.values("status")[:1]),
                last_response=Subquery(last.values("response_status")[:1]),
            )
        )

    # People who manage webhooks for the organisation may use these pages too.
    def _manages(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.manage_webhooks")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._manages(request) or super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) or super().has_delete_permission(request, obj)

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(str(e) for e in obj.events)

    @admin.display(description=_("secret starts with"))
    def secret_hint(self, obj: WebhookSubscription) -> str:
        return obj.secret_hint

    @admin.display(description=_("last delivery"))
    def last_delivery(self, obj: WebhookSubscription) -> str:
        status = getattr(obj, "last_status", None)
        if not status:
            return "—"
        label = str(Notification.Status(status).label)
        response = getattr(obj, "last_response", None)
        return f"{label} ({response})" if response else label

    @admin.display(description=_("recent deliveries"))
    def recent_deliveries(self, obj: WebhookSubscription) -> SafeString | str:
        if obj.pk is None:
            return "—"
        changelist = reverse("admin:notifications_notification_changelist")
        every = format_html(
            '<a href="{}?webhook__id__exact={}">{}</a>',
            changelist,
            obj.pk,
            _("All deliveries of this webhook"),
        )
        rows = obj.deliveries.order_by("-created_at", "-pk")[:RECENT_DELIVERIES]
        if not rows:
            return format_html("{}<br>{}", _("Nothing delivered yet."), every)
        table = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:notifications_notification_change", args=[row.pk]),
                    timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    row.kind,
                    row.get_status_display(),
                    row.attempts,
                    row.response_status or "",
                    Truncator(row.last_error).chars(80),
                )
                for row in rows
            ),
        )
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("created"),
            _("event"),
            _("status"),
            _("attempts"),
            _("response status"),
            _("last error"),
        )
        return format_html("<table>{}{}</table>{}", header, table, every)

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[Any, Any], set[Any], list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Its deliveries go with it: they are its log. (The outbox refuses deleting rows
        # one by one, which would otherwise refuse this too.)
        perms_needed.discard(Notification._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool
    ) -> None:
        secret = None
        if not change:
            secret = obj.issue_secret()
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            webhooks.deactivate(obj)
        if secret is not None:
            self._show_secret(request, obj, secret)

    def _show_secret(self, request: HttpRequest, obj: WebhookSubscription, secret: str) -> None:
        self.message_user(
            request,
            _("The signing secret of %(name)s, shown only now: %(secret)s")
            % {"name": obj.name, "secret": secret},
            level=messages.WARNING,
        )

    @admin.action(description=_("Send a test ping"), permissions=["change"])
    def send_ping(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        count = 0
        for subscription in queryset:
            webhooks.ping(subscription)
            count += 1
        self.message_user(
            request,
            ngettext(
                "A ping is on its way to %(count)d webhook.",
                "A ping is on its way to %(count)d webhooks.",
                count,
            )
            % {"count": count},
            level=messages.SUCCESS,
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            self._show_secret(request, subscription, webhooks.rotate_secret(subscription))

    @admin.action(description=_("Deactivate"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        count = 0
        for subscription in queryset.filter(is_active=True):
            webhooks.deactivate(subscription)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d webhook deactivated.", "%(count)d webhooks deactivated.", count)
            % {"count": count},
            level=messages.SUCCESS,
        )
