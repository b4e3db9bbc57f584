"""Who is staff. Two roles, Django groups made by a migration: `agent` handles
chats, `manager` also sees analytics, exports and settings. Superusers can do
everything. Players are not Django users at all (chat/identity.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

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
