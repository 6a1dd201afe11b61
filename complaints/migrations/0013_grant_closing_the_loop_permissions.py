"""Give the role groups that already exist the closing-the-loop permissions of their role.

Groups are created with their role's permissions once; later permissions must be granted
to them here, or existing installations would never get them.
"""

from typing import Any

from django.db import migrations

_HANDLING_ROLES = ["handler", "department_head", "supervisor", "administrator"]
# codename → (model, name, roles)
GRANTS = {
    "record_survey_complaint": (
        "complaint",
        "Can enter survey answers taken by phone",
        ["intake_clerk", "dispatcher", *_HANDLING_ROLES],
    ),
    "deliver_reply_complaint": (
        "complaint",
        "Can record letters posted and oral replies given",
        ["intake_clerk", "dispatcher", *_HANDLING_ROLES],
    ),
    "add_datarequest": (
        "datarequest",
        "Can add personal data request",
        ["intake_clerk", "dispatcher", "supervisor", "administrator"],
    ),
    "view_datarequest": (
        "datarequest",
        "Can view personal data request",
        ["intake_clerk", "dispatcher", "supervisor", "administrator"],
    ),
    "change_datarequest": ("datarequest", "Can change personal data request", ["administrator"]),
    "decide_datarequest": ("datarequest", "Can decide personal data requests", ["administrator"]),
}


def grant(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    groups = {g.name: g for g in group_model.objects.all()}
    if not groups:
        return  # a new database: post_migrate creates the groups with every permission
    for codename, (model, name, roles) in GRANTS.items():
        content_type, _ = content_type_model.objects.get_or_create(
            app_label="complaints", model=model
        )
        permission, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        for role in roles:
            if role in groups:
                groups[role].permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0012_closing_the_loop"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
