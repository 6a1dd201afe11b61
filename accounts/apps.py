from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("People and roles")

    def ready(self) -> None:
        from accounts.roles import create_missing_role_groups

        # After every migrate (and test database set-up): make sure each role group
        # exists. Existing groups are left as the administrator configured them.
        post_migrate.connect(create_missing_role_groups, dispatch_uid="accounts.roles")

        from accounts.sessions import end_sessions_of_deactivated_user

        # Deactivating a user (back-office or ORM save) deletes their stored sessions.
        post_save.connect(
            end_sessions_of_deactivated_user,
            sender=self.get_model("User"),
            dispatch_uid="accounts.sessions",
        )

        from django.contrib.auth import signals

        from accounts import audit

        # Logins, failed logins and logouts go to the audit log, whichever door they use.
        signals.user_logged_in.connect(audit.on_logged_in, dispatch_uid="accounts.audit.in")
        signals.user_logged_out.connect(audit.on_logged_out, dispatch_uid="accounts.audit.out")
        signals.user_login_failed.connect(
            audit.on_login_failed, dispatch_uid="accounts.audit.failed"
        )
