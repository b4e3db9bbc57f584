"""Password guessing on the staff sign-in: a username that failed to sign in
SIGN_IN_FAILURES_ALLOWED times within SIGN_IN_WINDOW_SECONDS from one address is refused
there, its password not even checked, until the oldest of those failures leaves the
window; and an address that failed SIGN_IN_ADDRESS_FAILURES_ALLOWED times, whatever the
usernames, is refused for every one.

By username *and* address: counted by username alone, anyone who knew a staff member's
username could lock them out with five wrong passwords; counted this way the stranger
locks only themselves out, and the staff member at their own desk signs in. The cap per
address stops one address from spraying guesses over many usernames instead. The address
is the web process's REMOTE_ADDR: behind a proxy, daphne's `--proxy-headers` makes it
the browser's (README, Production); without it every sign-in comes from the proxy's,
one address for all.

Counted in the database, so every web process counts the same failures, and settled
there: an attempt is written *before* its password is checked and then counts itself,
so parallel guesses can't all slip in under either limit while each one's slow hash
runs. A right password deletes that username's rows from that address (its owner is
back; the guesses before no longer matter), as does the window's passing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from chat.models import SignInAttempt


class SignInThrottled(Exception):
    def __init__(self, wait_seconds: int, *, by_address: bool = False) -> None:
        super().__init__(f"too many failed sign-ins; try again in {wait_seconds} s")
        self.wait_seconds = wait_seconds
        self.by_address = by_address  # the address's failures, over every username


def client_address(request: HttpRequest | None) -> str:
    """The address a sign-in comes from, as daphne gives it (its `--proxy-headers` behind a proxy)."""
    return (request.META.get("REMOTE_ADDR") or "")[:64] if request is not None else ""


def _key(username: str) -> str:
    # Case variants of one name are one name to guess for (a case-insensitive backend).
    return username.strip().casefold()[:150]


def sign_in_attempt(username: str, address: str) -> None:
    """Count a sign-in about to check this username's password from this address; raise
    SignInThrottled (with the seconds to wait) when it is one too many."""
    key, now = _key(username), timezone.now()
    window = timedelta(seconds=settings.SIGN_IN_WINDOW_SECONDS)
    # Every username's, not only this one's: names tried once (a spray of made-up ones) would
    # otherwise stay for good.
    SignInAttempt.objects.filter(at__lte=now - window).delete()
    mine = SignInAttempt.objects.create(username=key, address=address, at=now)
    limits = (
        (SignInAttempt.objects.filter(username=key, address=address), settings.SIGN_IN_FAILURES_ALLOWED, False),
        (SignInAttempt.objects.filter(address=address), settings.SIGN_IN_ADDRESS_FAILURES_ALLOWED, True),
    )
    for attempts, allowed, by_address in limits:
        oldest = _oldest_over(attempts, allowed)
        if oldest is not None:
            # A refused attempt checked no password: it is no failure, and must not keep the
            # name locked longer.
            mine.delete()
            wait = max(1, math.ceil((oldest + window - now).total_seconds()))
            raise SignInThrottled(wait, by_address=by_address)


def _oldest_over(attempts, allowed: int) -> datetime | None:
    """The oldest of `attempts` when there are more than `allowed`: the one whose leaving lets the next in."""
    recent = list(attempts.order_by("at").values_list("at", flat=True)[: allowed + 1])
    return recent[0] if len(recent) > allowed else None


def sign_in_succeeded(username: str, address: str) -> None:
    SignInAttempt.objects.filter(username=_key(username), address=address).delete()
