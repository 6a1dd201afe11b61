"""Signals other apps listen to instead of importing services (dependencies point one way).

``complaint_changed(complaint_id, event_id, kind, received_at)`` — after every Event a
service writes, once the change has committed: routing, notifications, webhooks and the
report rollups act on it.

``event_recorded(complaint, event)`` — inside the transaction that writes the event, so
a listener's rows (the SLA engine's deadlines) commit or roll back with the change; an
exception in a listener fails the whole service call.
"""

from django.dispatch import Signal

complaint_changed = Signal()
event_recorded = Signal()
