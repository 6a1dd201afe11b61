"""Malware scanning of attachments by ClamAV, before staff may open them.

With ``CLAMAV_SOCKET`` set, every new attachment is stored ``pending`` and a task scans it
after commit (``complaints.tasks.scan_attachment``); beat's ``scan-pending-attachments``
scans whatever a lost task or a clamd outage left behind. Scanning never holds up a
submission: the complaint is committed first, the file is judged later.

- clean: staff may open it.
- infected: the file moves to the ``quarantine`` storage (outside the media storage,
  opened by no view) and ``attachment.quarantined`` lands on the complaint's timeline; the
  complaint itself, its text and its other files, carries on untouched.
- failed: clamd refused the file (too large for it, a damaged archive); nobody opens it.
- clamd unreachable: the file stays pending and is retried with backoff.

Without ``CLAMAV_SOCKET`` files are ``not_scanned`` and open as before; the console says
they were not scanned. The petitioner is never told a file was found infected: the
public portal is the door an attacker would probe signatures through, so the verdict is
for staff only (they may contact the petitioner through the case).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from complaints.clamd import Clamd, Outcome, ScannerUnavailable, Verdict
from complaints.errors import DomainError
from complaints.models import Attachment

logger = logging.getLogger(__name__)

Scan = Attachment.Scan
OPENABLE = Attachment.OPENABLE

__all__ = [
    "AttachmentUnavailable",
    "ScannerUnavailable",
    "download_response",
    "enabled",
    "initial_status",
    "queue_scan",
    "scan_attachment",
    "scan_pending",
    "storage_of",
]


class AttachmentUnavailable(DomainError):
    """The file exists but may not be opened (yet): waiting for, or failing, its scan."""

    status = 409
    code = "attachment_unavailable"


def enabled() -> bool:
    return bool(settings.CLAMAV_SOCKET)


def initial_status() -> str:
    return Scan.PENDING if enabled() else Scan.NOT_SCANNED


def scanner() -> Clamd:
    return Clamd(settings.CLAMAV_SOCKET, timeout=float(settings.CLAMAV_TIMEOUT))


def storage_of(attachment: Attachment) -> Storage:
    """Where the attachment's bytes are: quarantined files live in their own storage."""
    if attachment.scan_status == Scan.INFECTED:
        return storages["quarantine"]
    return attachment.file.storage


# --- Queueing ---------------------------------------------------------------------------


def queue_scan(attachment_id: int) -> None:
    """Ask a worker to scan the file; if the broker is down, beat's sweep asks again.

    Called after commit: whatever happens here, the submission has been accepted.
    """
    from complaints.tasks import scan_attachment as task

    try:
        task.delay(attachment_id)
    except Exception:  # kombu raises many kinds; eager runs raise the scan's own errors
        logger.warning("attachment %s: scan not queued; the sweep scans it", attachment_id)


# --- Scanning (the worker) --------------------------------------------------------------


def scan_attachment(*, attachment_id: int) -> str:
    """Scan one pending file and record the verdict; returns the file's scan status.

    pending → clean | infected (quarantined, ``attachment.quarantined``) | failed.
    Idempotent: a file no longer pending is left alone, and the verdict is written with
    a guarded update, so two workers scanning the same file record it once. Raises
    ``ScannerUnavailable`` when clamd cannot be reached (the task retries).
    """
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        return "missing"
    if attachment.scan_status != Scan.PENDING:
        return str(attachment.scan_status)
    if not attachment.file:
        # Anonymised before its scan: there is nothing left anyone could open.
        _settle(attachment, Scan.CLEAN, "")
        return Scan.CLEAN
    # The network call runs outside any transaction: no row is locked while clamd reads.
    with attachment.file.open("rb") as handle:
        verdict = scanner().scan_file(handle)
    return _record(attachment, verdict)


def _record(attachment: Attachment, verdict: Verdict) -> str:
    if verdict.outcome is Outcome.CLEAN:
        _settle(attachment, Scan.CLEAN, "")
        return Scan.CLEAN
    if verdict.outcome is Outcome.ERROR:
        logger.warning("attachment %s could not be scanned: %s", attachment.pk, verdict.detail)
        _settle(attachment, Scan.FAILED, verdict.detail)
        return Scan.FAILED
    _quarantine(attachment, verdict.detail)
    return Scan.INFECTED


def _settle(attachment: Attachment, status: str, result: str) -> bool:
    return bool(
        Attachment.objects.filter(pk=attachment.pk, scan_status=Scan.PENDING).update(
            scan_status=status, scan_result=result[:255], scanned_at=timezone.now()
        )
    )


def _quarantine(attachment: Attachment, signature: str) -> None:
    """Move the infected file out of the media storage, then record it on the timeline."""
    from complaints import services

    source = attachment.file.storage
    name = str(attachment.file.name)
    quarantine = storages["quarantine"]
    with source.open(name, "rb") as handle:
        # The same relative name; save() picks another if it is taken (a re-upload).
        kept = quarantine.save(name, handle)
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().filter(pk=attachment.pk).first()
        if locked is None or locked.scan_status != Scan.PENDING:
            # Another worker recorded a verdict first: undo our copy, keep theirs.
            transaction.on_commit(lambda: quarantine.delete(kept))
            return
        Attachment.objects.filter(pk=locked.pk).update(
            scan_status=Scan.INFECTED,
            scan_result=signature[:255],
            scanned_at=timezone.now(),
            file=kept,
        )
        services.record_event(
            complaint_id=locked.complaint_id,
            kind="attachment.quarantined",
            actor_label="malware scan",
            payload={
                "attachment_id": locked.pk,
                "name": locked.original_name,
                "signature": signature,
            },
        )
        transaction.on_commit(lambda: _delete_quietly(source, name))
    logger.warning(
        "attachment %s of complaint %s quarantined: %s",
        attachment.pk,
        attachment.complaint_id,
        signature,
    )


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:  # OSError on disk; botocore's own errors from S3
        logger.exception("infected file %s was quarantined but not removed from media", name)


def scan_pending(*, limit: int = 100) -> dict[str, int]:
    """Scan files still pending, oldest first (beat, after a clamd or broker outage).

    Stops at the first unreachable clamd: the rest waits for the next run. Files younger
    than one sweep interval are left to the task their upload queued, so a fresh file is
    not scanned (and, if infected, quarantined) twice at once.
    """
    report: dict[str, int] = {}
    if not enabled():
        return report
    settled = timezone.now() - timedelta(seconds=settings.CLAMAV_SWEEP_INTERVAL)
    pending = Attachment.objects.filter(scan_status=Scan.PENDING, created_at__lt=settled).order_by(
        "created_at", "pk"
    )
    for attachment_id in pending.values_list("pk", flat=True)[:limit]:
        try:
            status = scan_attachment(attachment_id=attachment_id)
        except ScannerUnavailable:
            logger.warning("clamd unreachable; pending files wait for the next sweep")
            report["waiting"] = report.get("waiting", 0) + 1
            break
        report[status] = report.get(status, 0) + 1
    return report


# --- Opening ----------------------------------------------------------------------------


def refusal(attachment: Attachment) -> str:
    """Why staff may not open this file now, in their language; "" when they may."""
    status = attachment.scan_status
    if status in OPENABLE:
        return ""
    if status == Scan.PENDING:
        return _(
            "“%(name)s” is waiting for its malware scan. It can be opened once the scan "
            "finds it clean."
        ) % {"name": attachment.original_name}
    if status == Scan.INFECTED:
        return _(
            "“%(name)s” contains malware (%(signature)s) and has been quarantined. It cannot "
            "be opened; the rest of the complaint is unaffected."
        ) % {"name": attachment.original_name, "signature": attachment.scan_result}
    return _(
        "“%(name)s” could not be scanned for malware, so it cannot be opened. Ask an "
        "administrator to check it."
    ) % {"name": attachment.original_name}


def download_response(attachment: Attachment, *, request: Any) -> FileResponse:
    """The file as a download nothing will render, or ``AttachmentUnavailable``.

    Whatever the bytes are, a browser is told to save them: attachment disposition,
    a generic type, no sniffing, and a sandboxing CSP in case it is opened anyway.
    Files carry personal data (ID cards, letters, recordings): each download handed out
    is an ``attachment.downloaded`` audit entry (who, which file, when, from where).
    """
    from accounts import audit

    message = refusal(attachment)
    if message:
        raise AttachmentUnavailable(message)
    audit.record(
        "attachment.downloaded",
        request=request,
        target=f"attachment:{attachment.pk}",
        complaint=attachment.complaint_id,
    )
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name
    )
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response


DOWNLOAD_HEADERS: dict[str, Any] = {
    # Bytes to save: the real type is in the file list; nothing is tempted to render them.
    "Content-Type": "application/octet-stream",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
