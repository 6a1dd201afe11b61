from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.forms import LoginForm
from intake import console
from notifications import views as notifications
from routing import console as routing
from sla import views as sla

app_name = "console"

urlpatterns = [
    path("", console.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="console/login.html", authentication_form=LoginForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", console.register, name="register"),
    path("register/done/", console.registered, name="registered"),
    path("", include("complaints.console.urls")),
    path("inbox/", routing.inbox, name="inbox"),
    path("inbox/<int:pk>/", routing.triage, name="triage"),
    path("deadlines/", sla.deadlines, name="deadlines"),
    path("deadlines/<int:pk>/extend/", sla.request_extension, name="request_extension"),
    path("extensions/<int:pk>/", sla.decide_extension, name="decide_extension"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", notifications.read, name="notification_read"),
    path("notifications/read-all/", notifications.read_all, name="notifications_read_all"),
]

# Personal access tokens for the REST API: accounts.console.
from accounts import console as accounts_console  # noqa: E402

urlpatterns += [
    path("tokens/", accounts_console.token_list, name="tokens"),
    path("tokens/made/", accounts_console.token_created, name="token_created"),
    path("tokens/<int:pk>/revoke/", accounts_console.token_revoke, name="token_revoke"),
]

# The audit log, read-only, for auditors and supervisors: accounts.auditlog.
from accounts import auditlog  # noqa: E402

urlpatterns += [path("audit-log/", auditlog.audit_log, name="audit_log")]
