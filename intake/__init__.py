"""Channels in, one complaint out.

Every channel — the citizen portal and tracking page, staff registration of phone,
walk-in and letter complaints, e-mail (``ingest_email`` and IMAP polling), the REST intake
API with idempotency keys, Open311 GeoReport v2 — normalises what it receives into one
``Submission`` (``intake.submission``) and calls ``intake.services.submit``, which
validates, normalises, finds the petitioner and creates the complaint.
"""
