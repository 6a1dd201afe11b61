"""The ticket: the complaint and its state machine, petitioners, the event timeline
(which is also the audit log), attachments and replies; the services that change them,
the permissions that guard them, the staff console and the staff REST API.
"""
