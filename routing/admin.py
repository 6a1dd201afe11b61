from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from complaints.models import Complaint
from routing import services
from routing.decide import decide
from routing.models import (
    Category,
    ClassifierModel,
    Department,
    DuplicateCandidate,
    KeywordRule,
    RoutingRule,
    Suggestion,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "parent", "assignment", "is_active")
    list_filter = ("is_active", "assignment")
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("on_call",)
    exclude = ("last_assignee",)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "parent", "default_department", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    list_display = (
        "phrase",
        "category",
        "weight",
        "language",
        "priority_effect",
        "is_sensitive",
        "is_active",
    )
    list_filter = ("category", "priority_effect", "is_sensitive", "language", "is_active")
    list_editable = ("weight", "is_active")
    search_fields = ("phrase",)
    change_list_template = "admin/routing/keywordrule/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path("try/", self.admin_site.admin_view(self.try_text), name="routing_keywordrule_try"),
            *super().get_urls(),
        ]

    def try_text(self, request: HttpRequest) -> HttpResponse:
        """The test box: classify a text with the rules and model in force right now."""
        form = TryForm(request.POST or None)
        decision = (
            decide(form.cleaned_data["text"])
            if request.method == "POST" and form.is_valid()
            else None
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Try the classification"),
            "form": form,
            "decision": decision,
            # People read names, not codes.
            "category_label": _label_of_category(decision.category) if decision else "",
            "priority_label": Complaint.Priority(decision.priority).label if decision else "",
        }
        return TemplateResponse(request, "admin/routing/try.html", context)


def _label_of_category(code: str | None) -> str:
    category = Category.objects.filter(code=code).first() if code else None
    return str(category) if category else "-"


class TryForm(forms.Form):
    text = forms.CharField(
        label=_("Complaint text"), widget=forms.Textarea(attrs={"rows": 6, "cols": 80})
    )


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("order", "name", "category", "priority", "channel", "department", "is_active")
    list_display_links = ("name",)
    list_editable = ("order", "is_active")
    list_filter = ("department", "is_active")


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    list_display = ("version", "created_at", "samples", "accuracy", "is_active")
    readonly_fields = ("version", "created_at", "samples", "metrics", "is_active")
    exclude = ("blob",)

    @admin.display(description=_("accuracy"))
    def accuracy(self, obj: ClassifierModel) -> str:
        value = (obj.metrics or {}).get("accuracy")
        return f"{value:.1%}" if isinstance(value, int | float) else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by train_classifier


@admin.register(Suggestion)
class SuggestionAdmin(admin.ModelAdmin):
    list_display = (
        "complaint",
        "category",
        "priority_label",
        "confidence_percent",
        "sensitive",
        "applied",
        "created_at",
    )
    list_filter = ("applied", "priority", "sensitive")
    list_select_related = ("complaint", "category")
    readonly_fields = [f.name for f in Suggestion._meta.fields]

    @admin.display(description=_("priority"), ordering="priority")
    def priority_label(self, obj: Suggestion) -> str:
        return str(Complaint.Priority(obj.priority).label)

    @admin.display(description=_("confidence"), ordering="confidence")
    def confidence_percent(self, obj: Suggestion) -> str:
        return f"{obj.confidence:.0%}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    """Probable repeats, for a dispatcher to merge or dismiss."""

    list_display = ("complaint", "original", "similarity", "reasons", "status", "decided_by")
    list_filter = ("status",)
    list_select_related = ("complaint", "original", "decided_by")
    readonly_fields = [f.name for f in DuplicateCandidate._meta.fields]
    actions = ["merge", "dismiss"]

    @admin.action(description=_("Merge into the earlier complaint"))
    def merge(self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]) -> None:
        self._decide(request, queryset, services.merge_duplicate)

    @admin.action(description=_("Not a duplicate"))
    def dismiss(self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate]) -> None:
        self._decide(request, queryset, services.dismiss_duplicate)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[DuplicateCandidate], decide_one: Any
    ) -> None:
        from complaints.errors import DomainError

        for candidate in queryset:
            try:
                decide_one(candidate_id=candidate.pk, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{candidate}: {error}", level=messages.ERROR)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
