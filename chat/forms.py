"""The staff sign-in forms (the dashboard's and the admin's), with password guessing
throttled (chat/sign_in_throttle.py)."""

from __future__ import annotations

import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import ngettext

from chat.sign_in_throttle import SignInThrottled, sign_in_attempt, sign_in_succeeded


class ThrottledSignIn:
    """Counts each password check against its username before it runs; `throttled` is
    what the page says when the username is refused for now."""

    throttled = ""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not (username and password):  # no password checked: nothing to count
            return super().clean()
        try:
            sign_in_attempt(username)
        except SignInThrottled as refused:
            minutes = math.ceil(refused.wait_seconds / 60)
            self.throttled = ngettext(
                "Too many failed sign-ins with this username. Try again in %(minutes)s minute.",
                "Too many failed sign-ins with this username. Try again in %(minutes)s minutes.",
                minutes,
            ) % {"minutes": minutes}
            raise forms.ValidationError(self.throttled, code="throttled") from None
        cleaned = super().clean()  # raises on a wrong password: the attempt stays, a failure
        sign_in_succeeded(username)
        return cleaned


class StaffSignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass
