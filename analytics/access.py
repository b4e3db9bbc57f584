"""Who may read analytics: managers (the `manager` group) and superusers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

MANAGER_GROUP = "manager"


def is_manager(user) -> bool:
    return bool(user.is_authenticated and user.is_active) and (
        user.is_superuser or user.groups.filter(name=MANAGER_GROUP).exists()
    )


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page; everyone else but managers gets 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_manager(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
