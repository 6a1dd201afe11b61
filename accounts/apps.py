from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People and roles")

    def ready(self) -> None:
        from accounts.roles import create_missing_role_groups

        # After every migrate (and test database set-up): make sure each role group
        # exists. Existing groups are left as the administrator configured them.
        post_migrate.connect(create_missing_role_groups, dispatch_uid="accounts.roles")
