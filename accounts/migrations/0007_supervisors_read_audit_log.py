"""Give an existing supervisor group ``view_audit_log`` (the console's audit log page).

Groups get their role's permissions once, when made (``accounts.roles``); a permission
added to a role later reaches existing installations only through a migration like this.
"""

from typing import Any

from django.db import migrations


def grant(apps: Any, schema_editor: Any) -> None:
    group = apps.get_model("auth", "Group").objects.filter(name="supervisor").first()
    if group is None:
        return  # a new database: post_migrate creates the group with every permission
    permission = (
        apps.get_model("auth", "Permission")
        .objects.filter(content_type__app_label="complaints", codename="view_audit_log")
        .first()
    )
    if permission is not None:
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_audit_log"),
        ("complaints", "0013_grant_closing_the_loop_permissions"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
