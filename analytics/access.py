"""Who may read analytics: managers (the `manager` group) and superusers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.roles import is_staff_member

MANAGER_GROUP = "manager"


def is_manager(user) -> bool:
    return bool(user.is_authenticated and user.is_active) and (
        user.is_superuser or user.groups.filter(name=MANAGER_GROUP).exists()
    )


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; everyone else but managers gets 403, as a page
    that says why in their language (an agent following a link lands here, not on a bare 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_manager(request.user):
            context = {"dashboard": is_staff_member(request.user)}
            return render(request, "analytics/forbidden.html", context, status=403)
        return view(request, *args, **kwargs)

    return wrapper
