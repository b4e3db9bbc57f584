"""Staff sign-ins end after STAFF_SESSION_IDLE_MINUTES without activity: a staff member who
walks away from a shared support desk does not stay signed in for the session's two weeks.

The session engine (SESSION_ENGINE) is Django's database one, except that a signed-in
session's row expires that long after it was last saved, so Django itself finds it gone:
the next page load sends its browser to sign in, and the dashboard's socket, which checks
its sign-in every 20 s (chat/roles.py: sign_in_stands), is closed with 4403. The cookie
keeps Django's lifetime; the row's expiry is what counts.

Activity slides it on: a page load that reads who is signed in (csbot/middleware.py) saves
the session again at most once a minute, and what a person does on the dashboard (not its
pings, resumes and other frames the page sends by itself) moves the row's expiry on with a
conditional UPDATE, which never brings back a row that has already expired.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.utils import timezone

# A page load saves the session again only once this long after the last save: the idle
# timeout counts in hours, and a write per page would be wasted.
RENEW_EVERY_SECONDS = 60
_RENEWED_AT = "csbot_renewed_at"  # in the session: when a page load last saved it (Unix time)


def idle_timeout() -> timedelta:
    return timedelta(minutes=settings.STAFF_SESSION_IDLE_MINUTES)


class SessionStore(db.SessionStore):
    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        if SESSION_KEY in data:  # signed in: staff (players are no Django users)
            session.expire_date = min(session.expire_date, timezone.now() + idle_timeout())
        return session


def staff_session_seen(session: SessionBase) -> None:
    """A page load by a signed-in staff member: mark the session for saving (its expiry moves
    on) when it was last saved more than a minute ago.

    Call only once the session has been read (`session.accessed`): it reads no database."""
    if SESSION_KEY not in session:
        return
    now = int(timezone.now().timestamp())
    if now - session.get(_RENEWED_AT, 0) >= RENEW_EVERY_SECONDS:
        session[_RENEWED_AT] = now


def staff_session_renew(session_key: str | None) -> bool:
    """The staff member did something on the dashboard: their session's expiry moves on.
    False when it had expired already (or is gone): the socket must close."""
    if not session_key:
        return False
    now = timezone.now()
    return (
        Session.objects.filter(session_key=session_key, expire_date__gt=now).update(expire_date=now + idle_timeout())
        == 1
    )
