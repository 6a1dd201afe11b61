"""By when: business calendars, versioned SLA policies, deadlines, warnings and escalation.

``routing`` decides where a complaint goes; ``sla`` decides by when each step is due and
what happens when it is not done in time.
"""
