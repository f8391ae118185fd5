from django.contrib.auth import views as auth_views
from django.urls import path

from sealbox.portal import views

urlpatterns = [
    path("", views.index, name="index"),
    path("activate/set-password/", views.activate_set_password, name="activate-set-password"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path(
        "signin/",
        auth_views.LoginView.as_view(
            template_name="portal/signin.html", redirect_authenticated_user=True
        ),
        name="signin",
    ),
    path("signout/", auth_views.LogoutView.as_view(), name="signout"),
    path("inbox/", views.inbox, name="inbox"),
    path("m/<uuid:message_id>/", views.message, name="message"),
]
