"""Password guessing on the staff sign-in: a username that failed to sign in
SIGN_IN_FAILURES_ALLOWED times within SIGN_IN_WINDOW_SECONDS is refused, its password
not even checked, until the oldest of those failures leaves the window.

By username, not by address: behind the proxy every sign-in comes from the proxy's
address (and an attacker has many), while a staff account's password is what is
guessed. Counted in the database, so every web process counts the same failures, and
settled there: an attempt is written *before* its password is checked and then counts
itself, so parallel guesses can't all slip in under the limit while each one's slow
hash runs. A right password deletes the username's rows (its owner is back; the
guesses before no longer matter), as does the window's passing.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from chat.models import SignInAttempt


class SignInThrottled(Exception):
    def __init__(self, wait_seconds: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {wait_seconds} s")
        self.wait_seconds = wait_seconds


def _key(username: str) -> str:
    # Case variants of one name are one name to guess for (a case-insensitive backend).
    return username.strip().casefold()[:150]


def sign_in_attempt(username: str) -> None:
    """Count a sign-in about to check this username's password; raise SignInThrottled
    (with the seconds to wait) when it is one too many."""
    key, now = _key(username), timezone.now()
    window = timedelta(seconds=settings.SIGN_IN_WINDOW_SECONDS)
    # Every username's, not only this one's: names tried once (a spray of made-up ones) would
    # otherwise stay for good.
    SignInAttempt.objects.filter(at__lte=now - window).delete()
    mine = SignInAttempt.objects.create(username=key, at=now)
    allowed = settings.SIGN_IN_FAILURES_ALLOWED
    recent = list(SignInAttempt.objects.filter(username=key).order_by("at").values_list("at", flat=True)[: allowed + 1])
    if len(recent) > allowed:
        # A refused attempt checked no password: it is no failure, and must not keep the
        # name locked longer.
        mine.delete()
        raise SignInThrottled(max(1, math.ceil((recent[0] + window - now).total_seconds())))


def sign_in_succeeded(username: str) -> None:
    SignInAttempt.objects.filter(username=_key(username)).delete()
