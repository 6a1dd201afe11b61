from django.contrib.auth import views as auth_views
from django.urls import path

from intake import console

app_name = "console"

urlpatterns = [
    path("", console.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", console.register, name="register"),
    path("register/done/", console.registered, name="registered"),
]
