from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from teams.forms import LookAlikeUsernames, check_credential_name
from teams.models import Credential, Invitation, Membership, Team, User


class UserCreation(LookAlikeUsernames, AdminUserCreationForm):
    pass


class UserChange(LookAlikeUsernames, UserChangeForm):
    pass


@admin.register(User)
class SceneryUserAdmin(UserAdmin):
    add_form = UserCreation
    form = UserChange


class CredentialAdminForm(forms.ModelForm):
    def clean_name(self) -> Any:
        name = self.cleaned_data["name"].strip()
        check_credential_name(self.instance.team, name, self.instance.pk)
        return name


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    inlines = [MembershipInline]


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialAdminForm
    # Never the secret, nor its ciphertext: the admin changes names and URLs; keys are set in the app.
    list_display = ["name", "team", "base_url", "masked"]
    fields = ["team", "name", "base_url", "default_model", "masked"]
    readonly_fields = ["team", "base_url", "masked"]
    list_select_related = ["team"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "email", "role", "status", "expires_at"]
    fields = [
        "team",
        "email",
        "role",
        "status",
        "invited_by",
        "used_by",
        "created_at",
        "expires_at",
        "used_at",
    ]
    readonly_fields = ["team", "email", "invited_by", "used_by", "created_at", "used_at"]
