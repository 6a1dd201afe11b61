"""The e-mail channel: parse a raw message, decide what it is, and hand it to intake.

``parser`` turns bytes into a ``ParsedEmail`` and never raises; ``ingest`` records the
message once (by Message-ID) and creates a complaint, adds to one, ignores automatic
mail, or keeps the message as a dead letter; ``imap`` polls a mailbox. Messages arrive
through ``manage.py ingest_email`` (an MTA pipe) or the ``intake.tasks.poll_mailbox``
Celery task.
"""
