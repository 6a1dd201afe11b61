"""Signals of the outbox, for apps that track what their messages became."""

from django.dispatch import Signal

# A row was handed to its channel: ``notification``. Sent outside any transaction, once
# per row (a worker that lost its claim records nothing and sends no signal).
delivered = Signal()
