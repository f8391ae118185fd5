from django.urls import path

from sealbox.accounts import views

urlpatterns = [
    path("activate/set-password/", views.activate_set_password, name="activate-set-password"),
    path("activate/<str:token>/", views.activate, name="activate"),
    path("reset/set-password/", views.reset_set_password, name="reset-set-password"),
    path("reset/<str:token>/", views.reset, name="reset"),
    path("link/new/", views.link_new, name="link-new"),
    path("link/sent/", views.link_sent, name="link-sent"),
    path("password/forgot/", views.password_forgot, name="password-forgot"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/password/", views.change_password, name="settings-password"),
]
