"""Signals other apps listen to, sent only after the change has committed.

``complaint_changed(complaint_id, event_id, kind)`` — after every Event a service writes.
Routing (deadlines), notifications and webhooks connect here instead of importing
services, which keeps the dependency arrows pointing one way.
"""

from django.dispatch import Signal

complaint_changed = Signal()
