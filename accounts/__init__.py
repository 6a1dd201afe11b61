"""People and roles: the staff user (with their department) and the role groups.

Roles are Django groups with a default set of permissions (``accounts.roles``); an
administrator may adjust them in the back-office. What a role allows on a given
complaint is decided in ``complaints.permissions``.
"""
