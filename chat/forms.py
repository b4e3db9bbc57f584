"""The staff sign-in forms (the dashboard's and the admin's), with password guessing
throttled (chat/sign_in_throttle.py)."""

from __future__ import annotations

import math

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import ngettext

from chat.sign_in_throttle import SignInThrottled, client_address, sign_in_attempt, sign_in_succeeded


class ThrottledSignIn:
    """Counts each password check against its username and address before it runs;
    `throttled` is what the page says when they are refused for now."""

    throttled = ""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not (username and password):  # no password checked: nothing to count
            return super().clean()
        address = client_address(self.request)
        try:
            sign_in_attempt(username, address)
        except SignInThrottled as refused:
            self.throttled = _refusal(refused)
            raise forms.ValidationError(self.throttled, code="throttled") from None
        cleaned = super().clean()  # raises on a wrong password: the attempt stays, a failure
        sign_in_succeeded(username, address)
        return cleaned


def _refusal(refused: SignInThrottled) -> str:
    minutes = math.ceil(refused.wait_seconds / 60)
    if refused.by_address:
        text = ngettext(
            "Too many failed sign-ins from your network. Try again in %(minutes)s minute.",
            "Too many failed sign-ins from your network. Try again in %(minutes)s minutes.",
            minutes,
        )
    else:
        text = ngettext(
            "Too many failed sign-ins with this username. Try again in %(minutes)s minute.",
            "Too many failed sign-ins with this username. Try again in %(minutes)s minutes.",
            minutes,
        )
    return text % {"minutes": minutes}


class StaffSignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass
