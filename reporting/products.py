"""Exports, scheduled reports and sampling audits (imported by ``reporting.models``).

Reporting writes none of the other apps' data; these tables are its own records: which
files people took out of the system and with what, which reports were built for which
period, and which closed complaints an auditor checked and what they found.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

__all__ = ["AuditSample", "ExportJob", "ReportKind", "ReportSubscription", "StoredReport"]


class ExportJob(models.Model):
    """One export a user asked for: what, with which filters, and how it went.

    Every export leaves a row, also those small enough to download at once (``direct``,
    no file kept): together they are the record of who took which data out, and when.
    Larger ones are built by a worker into a file in the media storage (``exports/``) that only
    the owner may download, deleted after ``EXPORT_KEEP_DAYS``.
    """

    class Kind(models.TextChoices):
        COMPLAINTS = "complaints", _("Complaint list")
        KPIS = "kpis", _("KPI table")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", _("Excel (XLSX)")

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        RUNNING = "running", _("being built")
        DONE = "done", pgettext_lazy("export", "ready")
        FAILED = "failed", pgettext_lazy("export", "failed")
        EXPIRED = "expired", _("deleted after the keeping period")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="export_jobs",
    )
    kind = models.CharField(_("export of"), max_length=20, choices=Kind)
    format = models.CharField(_("format"), max_length=10, choices=Format)
    # What was exported: the queue's query (complaints) or the period and scope (KPIs).
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    # Petitioners' personal data unmasked, on purpose and with a reason.
    personal_data = models.BooleanField(_("personal data unmasked"), default=False)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Small enough to be downloaded at once: no file was kept.
    direct = models.BooleanField(_("downloaded at once"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.QUEUED)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="exports/", max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # Bumped with every chunk: a "running" job not touched for a while lost its worker.
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="exportjob_owner_created"),
            # The clean-up: finished files past their keeping period.
            models.Index(fields=["finished_at"], condition=~Q(file=""), name="exportjob_files"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_format_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, self.rows_done * 100 // self.rows_total)


class ReportKind(models.TextChoices):
    WEEKLY_EXCEPTIONS = "weekly_exceptions", _("Weekly process exceptions")
    MONTHLY = "monthly", _("Monthly report")


class ReportSubscription(models.Model):
    """A user who gets a kind of scheduled report by e-mail (and in the console)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
    )
    kind = models.CharField(_("report"), max_length=20, choices=ReportKind)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="report_subscription_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.get_kind_display()}"


class StoredReport(models.Model):
    """A scheduled report as it was built for one period: once per kind and period.

    ``data`` holds the figures and tables; ``html`` is them rendered from the report's
    template at build time, the archived version people read; the PDF is made from
    ``data``. Both stay as they were, whatever happens to the complaints afterwards.
    """

    kind = models.CharField(_("report"), max_length=20, choices=ReportKind)
    period_start = models.DateField(_("from"))
    # The last day of the period (inclusive).
    period_end = models.DateField(_("until"))
    # Every department: scheduled reports are the organisation's, not one department's.
    scope = models.CharField(_("scope"), max_length=20, default="all", editable=False)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    data = models.JSONField(_("figures"), default=dict, blank=True)
    html = models.TextField(_("report"))
    language = models.CharField(_("language"), max_length=10, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("stored report")
        verbose_name_plural = _("stored reports")
        ordering = ["-period_start", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "period_start"], name="stored_report_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return self.title


class AuditSample(models.Model):
    """One closed complaint drawn for the monthly sampling audit, and what its auditor found.

    ``checklist`` holds one answer (pass, fail, n/a) per item of
    ``reporting.audits.CHECKLIST``.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("to audit")
        DONE = "done", _("audited")

    class Verdict(models.TextChoices):
        PASS = "pass", _("satisfactory")
        REMARKS = "remarks", _("satisfactory with remarks")
        FAIL = "fail", _("unsatisfactory")

    complaint = models.ForeignKey(
        "complaints.Complaint",
        verbose_name=_("complaint"),
        on_delete=models.PROTECT,
        related_name="audit_samples",
    )
    # The first day of the month whose closed complaints the sample was drawn from.
    month = models.DateField(_("month"))
    auditor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auditor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_samples",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OPEN)
    checklist = models.JSONField(_("checklist"), default=dict, blank=True)
    verdict = models.CharField(_("verdict"), max_length=10, choices=Verdict, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    completed_at = models.DateTimeField(_("audited at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("drawn"), default=timezone.now)

    class Meta:
        verbose_name = _("audit sample")
        verbose_name_plural = _("audit samples")
        ordering = ["-month", "status", "id"]
        constraints = [
            models.UniqueConstraint(fields=["month", "complaint"], name="audit_sample_once"),
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(verdict=""), name="audit_sample_done_has_verdict"
            ),
        ]
        indexes = [models.Index(fields=["auditor", "status"], name="auditsample_auditor")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} #{self.complaint_id}"
