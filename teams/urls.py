from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path, reverse_lazy

from teams import account_views, credential_views, gateway_views, invitation_views, team_views
from teams.forms import ThrottledLoginForm

app_name = "teams"

accounts: list[URLPattern | URLResolver] = [
    path("signup/", account_views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="teams/login.html",
            redirect_authenticated_user=True,
            authentication_form=ThrottledLoginForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="teams/password_change.html", success_url=reverse_lazy("teams:password_change_done")
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="teams/password_change_done.html"),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        account_views.ThrottledPasswordResetView.as_view(
            template_name="teams/password_reset_form.html",
            email_template_name="teams/password_reset_email.txt",
            subject_template_name="teams/password_reset_subject.txt",
            success_url=reverse_lazy("teams:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="teams/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="teams/password_reset_confirm.html",
            success_url=reverse_lazy("teams:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="teams/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]

teams: list[URLPattern | URLResolver] = [
    path("teams/", team_views.team_list, name="list"),
    path("teams/new/", team_views.team_create, name="create"),
    path("teams/switch/", team_views.switch, name="switch"),
    path("teams/<uuid:team_id>/", team_views.team_detail, name="detail"),
    path("teams/<uuid:team_id>/rename/", team_views.team_rename, name="rename"),
    path("teams/<uuid:team_id>/delete/", team_views.team_delete, name="delete"),
    path("teams/<uuid:team_id>/leave/", team_views.team_leave, name="leave"),
    path(
        "teams/<uuid:team_id>/members/<int:membership_id>/role/", team_views.member_role, name="member_role"
    ),
    path(
        "teams/<uuid:team_id>/members/<int:membership_id>/remove/",
        team_views.member_remove,
        name="member_remove",
    ),
    path("teams/<uuid:team_id>/invitations/new/", invitation_views.invite, name="invite"),
    path(
        "teams/<uuid:team_id>/invitations/<uuid:invitation_id>/revoke/",
        invitation_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/<str:token>/", invitation_views.invitation, name="invitation"),
    path("invitations/<str:token>/accept/", invitation_views.invitation_accept, name="invitation_accept"),
    path("invitations/<str:token>/decline/", invitation_views.invitation_decline, name="invitation_decline"),
]

credentials: list[URLPattern | URLResolver] = [
    path("credentials/", credential_views.credentials, name="credentials"),
    path("credentials/new/", credential_views.credential_new, name="credential_new"),
    path("credentials/gateway/", credential_views.credential_gateway, name="credential_gateway"),
    path("credentials/<uuid:credential_id>/", credential_views.credential_edit, name="credential_edit"),
    path(
        "credentials/<uuid:credential_id>/delete/",
        credential_views.credential_delete,
        name="credential_delete",
    ),
]

gateway: list[URLPattern | URLResolver] = [
    path("gateway-keys/", gateway_views.gateway, name="gateway"),
    path("gateway-keys/new/", gateway_views.gateway_key_new, name="gateway_key_new"),
    path("gateway-keys/settings/", gateway_views.gateway_settings, name="gateway_settings"),
    path("gateway-keys/<int:key_id>/revoke/", gateway_views.gateway_key_revoke, name="gateway_key_revoke"),
]

urlpatterns: list[URLPattern | URLResolver] = [*accounts, *teams, *credentials, *gateway]
