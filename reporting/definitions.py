"""What each figure on the reports means, in the words the page shows as help text.

The exact rules are in ``reporting.rollups``; these sentences say the same for readers.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

COHORTS = _(
    "Every figure counts the complaints received in the period (in the local time zone), "
    "whenever they were answered: a complaint received on the last day of March and "
    "replied in April counts for March."
)

DEFINITIONS: dict[str, Promise] = {
    "volume": _("Complaints received in the period, of every kind and outcome."),
    "first_response": _(
        "From receipt to the first time a handler accepted the complaint for handling."
    ),
    "resolution": _("From receipt to the first reply sent to the petitioner."),
    "on_time": _(
        "Deadlines met without passing their limit, out of those met and those whose limit "
        "passed; overall, the whole-cycle deadline (receipt to reply). Extensions move the "
        "limit; running deadlines count once their limit has passed."
    ),
    "overdue": _("Complaints with at least one deadline whose limit passed."),
    "satisfaction": _(
        "Of the satisfaction surveys answered: the share of petitioners satisfied, and the "
        "average rating from 1 to 5."
    ),
    "reopen": _("Complaints reopened after a dissatisfied answer, out of those replied."),
    "repeat": _(
        "Complaints from a petitioner who had complained before (the same person, or the "
        "same phone number, e-mail address or ID number), out of all received."
    ),
    "first_contact": _(
        "Complaints closed without ever being reopened and with a satisfied first survey, "
        "out of all closed after a reply."
    ),
    "percentiles": _(
        "Medians and 90th percentiles are read from time ranges and are accurate to within "
        "about 17 %."
    ),
}
