"""Give the role groups that already exist the extension permissions of their role.

Groups are created with their role's permissions once; later permissions must be granted
to them here, or existing installations would never get them.
"""

from typing import Any

from django.db import migrations

GRANTS = {
    "request_extension_complaint": [
        "handler",
        "department_head",
        "supervisor",
        "administrator",
    ],
    "decide_extension_complaint": ["department_head", "supervisor", "administrator"],
}
NAMES = {
    "request_extension_complaint": "Can ask for more time (extension)",
    "decide_extension_complaint": "Can approve or refuse extensions",
}


def grant(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    groups = {g.name: g for g in group_model.objects.all()}
    if not groups:
        return  # a new database: post_migrate creates the groups with every permission
    content_type, _ = content_type_model.objects.get_or_create(
        app_label="complaints", model="complaint"
    )
    for codename, roles in GRANTS.items():
        permission, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": NAMES[codename]}
        )
        for role in roles:
            if role in groups:
                groups[role].permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0008_supervision_and_extension_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
