from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class BilingualName(models.Model):
    """A name kept in Simplified Chinese and English; shown in the reader's language."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        language = (get_language() or "zh-hans").lower()
        return self.name_en if language.startswith("en") else self.name_zh


class Department(BilingualName):
    """An organisational unit that handles complaints (承办单位)."""

    class Assignment(models.TextChoices):
        MANUAL = "manual", _("Manually, by the department head")
        ROUND_ROBIN = "round_robin", _("In turn (round-robin)")
        LEAST_LOADED = "least_loaded", _("To the least loaded handler")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    is_active = models.BooleanField(_("in use"), default=True)
    assignment = models.CharField(
        _("assignment of handlers"), max_length=20, choices=Assignment, default=Assignment.MANUAL
    )
    # Round-robin: who was given the last complaint, so the next goes to the one after.
    last_assignee = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    on_call = models.ManyToManyField(
        "accounts.User",
        verbose_name=_("on-call leaders"),
        blank=True,
        related_name="on_call_for",
        help_text=_("Alerted at once about critical complaints of this department."),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]


class Category(BilingualName):
    """What a complaint is about; ``code`` is part of the public contract."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    description = models.TextField(_("description"), blank=True)
    default_department = models.ForeignKey(
        Department,
        verbose_name=_("default department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("in use"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]


class KeywordRule(models.Model):
    """A phrase that points to a category, raises the priority, or marks a matter sensitive.

    All active rules are compiled into one Aho-Corasick automaton (routing.keywords);
    every process rebuilds it when any rule changes.
    """

    class Language(models.TextChoices):
        ANY = "", _("any language")
        CHINESE = "zh", _("Chinese")
        ENGLISH = "en", _("English")

    class Effect(models.TextChoices):
        NONE = "", _("no effect on priority")
        URGENT = "urgent", _("at least urgent")
        CRITICAL = "critical", _("critical")

    phrase = models.CharField(_("phrase"), max_length=100)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="keyword_rules",
    )
    weight = models.FloatField(_("weight"), default=1.0)
    language = models.CharField(_("language"), max_length=2, choices=Language, blank=True)
    priority_effect = models.CharField(
        _("effect on priority"), max_length=10, choices=Effect, blank=True
    )
    is_sensitive = models.BooleanField(
        _("sensitive"),
        default=False,
        help_text=_("Matters with this phrase are shown only to people who need to see them."),
    )
    is_active = models.BooleanField(_("in use"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("keyword rule")
        verbose_name_plural = _("keyword rules")
        ordering = ["phrase"]
        constraints = [
            models.UniqueConstraint(
                fields=["phrase", "category"], name="keyword_unique_phrase_category"
            )
        ]

    def __str__(self) -> str:
        return self.phrase


class RoutingRule(models.Model):
    """Where a classified complaint goes: the first active rule whose conditions all hold."""

    order = models.PositiveIntegerField(_("order"), default=100)
    name = models.CharField(_("name"), max_length=100)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, null=True, blank=True
    )
    priority = models.CharField(_("priority"), max_length=10, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    location_keywords = models.TextField(
        _("place contains"),
        blank=True,
        help_text=_("One per line; the rule applies when the location or text contains any."),
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def places(self) -> list[str]:
        return [line.strip() for line in self.location_keywords.splitlines() if line.strip()]


class ClassifierModel(models.Model):
    """One trained version of the category/priority model, shared by every process."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    created_at = models.DateTimeField(_("trained"), auto_now_add=True)
    samples = models.PositiveIntegerField(_("training samples"))
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    blob = models.BinaryField(_("model"))
    is_active = models.BooleanField(_("in use"), default=False, db_index=True)

    class Meta:
        verbose_name = _("classifier model")
        verbose_name_plural = _("classifier models")
        ordering = ["-version"]
        constraints = [
            # Every process must load the same model: at most one is active.
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="classifier_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class Suggestion(models.Model):
    """What routing proposed for a complaint, with why; the dispatcher sees it."""

    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="suggestions",
    )
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.SET_NULL, null=True, blank=True
    )
    priority = models.CharField(_("priority"), max_length=10)
    confidence = models.FloatField(_("confidence"))
    sensitive = models.BooleanField(_("sensitive"), default=False)
    # Matched phrases and model scores: [{"phrase", "category", "weight"}], {"category": p}
    matched = models.JSONField(_("matched phrases"), default=list, blank=True)
    scores = models.JSONField(_("model scores"), default=dict, blank=True)
    model_version = models.PositiveIntegerField(_("model version"), null=True, blank=True)
    applied = models.BooleanField(
        _("applied automatically"),
        default=False,
        help_text=_("Sure enough to classify without a dispatcher."),
    )
    created_at = models.DateTimeField(_("made"), auto_now_add=True)

    class Meta:
        verbose_name = _("routing suggestion")
        verbose_name_plural = _("routing suggestions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.category} {self.priority} {self.confidence:.2f}"


class DuplicateCandidate(models.Model):
    """A complaint that probably repeats an earlier one (重复信访), until a dispatcher decides."""

    class Status(models.TextChoices):
        PENDING = "pending", _("to be checked")
        MERGED = "merged", _("merged")
        DISMISSED = "dismissed", _("not a duplicate")

    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.CASCADE,
        related_name="duplicate_candidates",
    )
    original = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("earlier complaint"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    similarity = models.FloatField(_("similarity"))
    # Why they were compared: "same_petitioner", "same_place".
    reasons = models.JSONField(_("reasons"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.PENDING)
    decided_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("found"), auto_now_add=True)

    class Meta:
        verbose_name = _("probable duplicate")
        verbose_name_plural = _("probable duplicates")
        ordering = ["-similarity"]
        constraints = [
            models.UniqueConstraint(fields=["complaint", "original"], name="duplicate_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} ~ {self.original_id} ({self.similarity:.2f})"
