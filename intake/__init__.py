"""Channels in, one complaint out.

Every channel — the citizen portal and tracking page, staff registration of phone,
walk-in and letter complaints, e-mail (``ingest_email`` and IMAP polling), the REST intake
API with idempotency keys, Open311 GeoReport v2 — normalises what it receives into one
submission and calls ``complaints.services.submit_complaint``. Filled by the intake issue.
"""
