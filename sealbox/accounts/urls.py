from django.contrib.auth import views as auth_views
from django.urls import path

from sealbox.accounts import views

urlpatterns = [
    path("activate/set-password/", views.activate_set_password, name="activate-set-password"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path(
        "signin/",
        auth_views.LoginView.as_view(
            template_name="accounts/signin.html", redirect_authenticated_user=True
        ),
        name="signin",
    ),
    path("signout/", auth_views.LogoutView.as_view(), name="signout"),
]
