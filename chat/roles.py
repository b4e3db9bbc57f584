"""Who is staff. Two roles, Django groups made by a migration: `agent` handles
chats, `manager` also sees analytics, exports and settings. Superusers can do
everything. Players are not Django users at all (chat/identity.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

AGENT = "agent"
MANAGER = "manager"


def roles_of(user) -> set[str]:
    if not (user and user.is_authenticated and user.is_active):
        return set()
    roles = set(user.groups.filter(name__in=(AGENT, MANAGER)).values_list("name", flat=True))
    if user.is_superuser:
        roles |= {AGENT, MANAGER}
    return roles


def is_staff_member(user) -> bool:
    return bool(roles_of(user))


def is_manager(user) -> bool:
    return MANAGER in roles_of(user)


def sign_in_stands(session_key: str | None, user_id: int) -> bool:
    """Whether a staff sign-in still holds, read afresh: its session not ended (signed out,
    or ended by an admin), its user still active, with the password the session began with
    (or Django's check of every request would end it), and still staff.

    A staff socket is authenticated once, at its connect; without this an agent whose
    access was taken away kept reading every live chat until their dashboard reconnected.
    Unlike django.contrib.auth.get_user it writes nothing: a session signed with a
    SECRET_KEY_FALLBACKS key stays as it is for the page's next request to renew."""
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    backend_path = session.get(BACKEND_SESSION_KEY)
    if session.get(SESSION_KEY) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return False
    user = load_backend(backend_path).get_user(user_id)  # None once deactivated
    if user is None:
        return False
    signed = session.get(HASH_SESSION_KEY) or ""
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if not any(constant_time_compare(signed, user._get_session_auth_hash(secret=s)) for s in secrets):
        return False
    return is_staff_member(user)


def display_name(user) -> str:
    """The name players and colleagues see: the first name, else the username."""
    return (user.first_name or user.get_username()) if user else ""


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; logged-in non-staff get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_staff_member(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
