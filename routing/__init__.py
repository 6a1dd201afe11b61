"""Where a complaint goes and by when.

Owns the organisation (departments) and the taxonomy (categories); later the keyword
rules and trained classifier, urgency grading, duplicate detection, routing rules and
assignment, SLA policies, business calendars, deadlines and escalation.
"""
