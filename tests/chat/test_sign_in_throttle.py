"""Password guessing on the staff sign-in pages: after SIGN_IN_FAILURES_ALLOWED wrong
passwords for one username from one address, that username is refused there, even with
the right password, until the window has passed; the page says so. Its owner, elsewhere,
still signs in; and one address that fails SIGN_IN_ADDRESS_FAILURES_ALLOWED times across
usernames is refused for every one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import SignInAttempt

pytestmark = pytest.mark.django_db

PAGES = ["/accounts/login/", "/admin/login/"]


STRANGER, DESK = "198.51.100.23", "203.0.113.7"  # somewhere on the internet; the support office


def sign_in(page: str, username: str, password: str, address: str = STRANGER) -> tuple[Client, str]:
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(page, {"username": username, "password": password}, follow=False)
    return browser, response.content.decode() if response.status_code == 200 else ""


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


@pytest.mark.parametrize("page", PAGES)
def test_guessing_a_staff_password_is_refused_after_five_failures(page, alice, settings):
    settings.SIGN_IN_FAILURES_ALLOWED = 5
    for guess in range(5):
        browser, html = sign_in(page, "alice", f"guess-{guess}")
        assert not signed_in(browser) and "Too many failed sign-ins" not in html

    # The sixth guess is refused unchecked, the right password too: the attacker learns nothing.
    browser, html = sign_in(page, "alice", "pw-alice")
    assert not signed_in(browser)
    assert "Too many failed sign-ins with this username. Try again in 15 minutes." in html
    browser, html = sign_in(page, "ALICE", "pw-alice")  # another case is the same name
    assert not signed_in(browser) and "Too many failed sign-ins" in html


def test_the_owner_signs_in_once_the_window_has_passed(alice, settings):
    settings.SIGN_IN_FAILURES_ALLOWED = 2
    for guess in range(2):
        sign_in("/accounts/login/", "alice", f"guess-{guess}")
    assert "Too many failed sign-ins" in sign_in("/accounts/login/", "alice", "pw-alice")[1]

    SignInAttempt.objects.update(at=timezone.now() - timedelta(seconds=settings.SIGN_IN_WINDOW_SECONDS))
    browser, _html = sign_in("/accounts/login/", "alice", "pw-alice")
    assert signed_in(browser)


def test_a_right_password_forgives_the_failures_before_it(alice, bob, settings):
    settings.SIGN_IN_FAILURES_ALLOWED = 3
    for guess in range(2):
        sign_in("/accounts/login/", "alice", f"typo-{guess}")
    assert signed_in(sign_in("/accounts/login/", "alice", "pw-alice")[0])
    for guess in range(2):
        sign_in("/accounts/login/", "alice", f"typo-again-{guess}")
    assert signed_in(sign_in("/accounts/login/", "alice", "pw-alice")[0])
    # Another username's failures are its own.
    for guess in range(3):
        sign_in("/accounts/login/", "mallory", f"guess-{guess}")
    assert signed_in(sign_in("/accounts/login/", "bob", "pw-bob")[0])


def test_nobody_can_ask_for_a_staff_password_reset(alice, mailoutbox):
    """csbot offers no reset and sends no email: the form let anyone have reset links mailed
    to staff at will (or, with no mail server, log an error for every staff address tried)."""
    alice.email = "alice@example.com"
    alice.save()
    browser = Client()

    assert browser.get("/accounts/password_reset/").status_code == 404
    assert browser.post("/accounts/password_reset/", {"email": "alice@example.com"}).status_code == 404
    assert browser.get("/accounts/reset/MQ/set-password/").status_code == 404
    assert mailoutbox == []
    # Signing in and out still work.
    assert signed_in(sign_in("/accounts/login/", "alice", "pw-alice")[0])


def test_a_spray_of_made_up_usernames_leaves_no_rows_behind_once_the_window_has_passed(settings):
    for n in range(20):
        sign_in("/accounts/login/", f"nobody-{n}", "guess")
    SignInAttempt.objects.update(at=timezone.now() - timedelta(seconds=settings.SIGN_IN_WINDOW_SECONDS))

    sign_in("/accounts/login/", "somebody", "guess")

    assert list(SignInAttempt.objects.values_list("username", flat=True)) == ["somebody"]


@pytest.mark.parametrize("weak", ["password123", "qwertyuiop", "19870605", "alice2026"])
def test_a_staff_member_cannot_choose_a_password_an_attacker_tries_first(alice, weak):
    browser = Client()
    browser.force_login(alice)
    form = {"old_password": "pw-alice", "new_password1": weak, "new_password2": weak}

    page = browser.post("/accounts/password_change/", form)

    assert page.status_code == 200 and page.context["form"].errors["new_password2"]
    alice.refresh_from_db()
    assert alice.check_password("pw-alice")


@pytest.mark.parametrize("page", PAGES)
def test_a_stranger_guessing_a_staff_password_does_not_lock_its_owner_out(page, alice, settings):
    settings.SIGN_IN_FAILURES_ALLOWED = 5
    for guess in range(6):
        sign_in(page, "alice", f"guess-{guess}", address=STRANGER)

    assert "Too many failed sign-ins" in sign_in(page, "alice", "pw-alice", address=STRANGER)[1]
    # Alice, at her desk, signs in as usual.
    assert signed_in(sign_in(page, "alice", "pw-alice", address=DESK)[0])


def test_one_address_spraying_guesses_over_many_usernames_is_refused_for_every_one(alice, settings):
    settings.SIGN_IN_FAILURES_ALLOWED = 5
    settings.SIGN_IN_ADDRESS_FAILURES_ALLOWED = 8
    for n in range(8):  # two guesses each, under the username's limit
        sign_in("/accounts/login/", f"staff-{n // 2}", f"guess-{n}")

    browser, html = sign_in("/accounts/login/", "alice", "pw-alice")
    assert not signed_in(browser)
    assert "Too many failed sign-ins from your network. Try again in 15 minutes." in html
    assert signed_in(sign_in("/accounts/login/", "alice", "pw-alice", address=DESK)[0])
