"""Messages to staff and petitioners: an outbox table, delivered by Celery with retries.

E-mail goes through Django's mail, SMS through a pluggable gateway, and in-app
notifications are read in the staff console.
"""
