from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from intake import admin_email  # noqa: F401  (registers inbound mail and dead letters)
from intake.models import ChannelClient


class ChannelClientForm(forms.ModelForm):
    # The JSON list of scopes, as one checkbox per scope.
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=ChannelClient.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[ChannelClient.Scope.INTAKE],
        help_text=_("What the token may do."),
    )

    class Meta:
        model = ChannelClient
        fields = ("name", "channel", "scopes", "expires_at", "rate_limit")


@admin.register(ChannelClient)
class ChannelClientAdmin(admin.ModelAdmin):
    """Integrations and their tokens. A new token is shown once, right after saving."""

    form = ChannelClientForm
    list_display = (
        "name",
        "channel",
        "scope_names",
        "token_hint",
        "is_active",
        "expires_at",
        "rate_limit",
        "last_used_at",
        "last_used_ip",
        "created_at",
    )
    list_filter = ("channel", "is_active")
    search_fields = ("name",)
    fields = (
        "name",
        "channel",
        "scopes",
        "expires_at",
        "rate_limit",
        "token_hint",
        "is_active",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )
    readonly_fields = (
        "token_hint",
        "is_active",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )
    actions = ["revoke"]

    @admin.display(description=_("scopes"))
    def scope_names(self, obj: ChannelClient) -> str:
        labels = dict(ChannelClient.Scope.choices)
        return ", ".join(str(labels.get(scope, scope)) for scope in obj.scopes or [])

    def save_model(self, request: HttpRequest, obj: ChannelClient, form: Any, change: bool) -> None:
        token = None if change else obj.issue_token()
        super().save_model(request, obj, form, change)
        if token is None:
            return
        self.message_user(
            request,
            _("The token of %(name)s, shown only now: %(token)s")
            % {"name": obj.name, "token": token},
            level=messages.WARNING,
        )

    @admin.action(description=_("Revoke the tokens of the selected clients"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ChannelClient]) -> None:
        for client in queryset.filter(is_active=True):
            client.revoke()
        self.message_user(request, _("Revoked."), level=messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: complaints keep pointing at who sent them
