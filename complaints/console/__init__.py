"""The staff console's complaint views: queues, the complaint page, personal data.

Every view asks ``complaints.permissions`` for the object (``visible_to``); a complaint
out of the user's reach answers 404, as if it did not exist.
"""
