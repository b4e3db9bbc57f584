"""Django's middleware, without a thread hop per method under ASGI.

Django's MiddlewareMixin runs every `process_request` and `process_response`
of an old-style middleware through `sync_to_async(thread_sensitive=True)` when
the handler is async: 14 hops to a thread for the 8 middlewares in settings,
plus one for CSRF's `process_view`, on every page load. Each hop walks the
request's context twice (asgiref's `_restore_context`) and the first one of a
request starts a thread of its own (`ThreadSensitiveContext`); together they
were about a third of the CPU of loading the player page
(docs/benchmarks-history.md, "The sixth round").

These methods are plain CPU work on the request and response objects (reading
cookies and headers, setting headers, activating a language, lazy session and
user objects), so here they run on the event loop. The two that can reach the
database still hop, and only then: the session's `process_response` when it
will save the session, and the messages' when messages were read or added
(their fallback storage writes to the session). CSRF's `process_view` hops for
unsafe methods, whose check reads the request's body (for a large upload, a
temporary file).

In sync mode (WSGI, Django's test `Client`) they are Django's own.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptions
from django.middleware.common import CommonMiddleware as _Common
from django.middleware.csrf import CsrfViewMiddleware as _Csrf
from django.middleware.locale import LocaleMiddleware as _Locale
from django.middleware.security import SecurityMiddleware as _Security
from django.utils.deprecation import MiddlewareMixin

from chat.staff_sessions import staff_session_seen

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class OnTheLoop:
    """`__acall__` that calls `process_request` / `process_response` inline.

    A subclass whose `process_response` may touch the database says when, in
    `response_needs_thread`.
    """

    def response_needs_thread(self, request) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class ProbesMiddleware:
    """/healthz and /readyz answer whatever Host the request names, before Django checks it
    against ALLOWED_HOSTS (SecurityMiddleware and CommonMiddleware after this one do).
    Probes ask a process by its own address: docker-compose.yml's healthcheck by
    127.0.0.1, Kubernetes' by the pod's IP, a load balancer's by the target's. Those are
    never the public names an operator lists in ALLOWED_HOSTS, so the probes were refused
    (400, and an ERROR with a traceback in the log every few seconds) and the process
    never counted as healthy. Their bodies say nothing a stranger can use (chat/views.py);
    every other path still answers only the hosts listed."""

    sync_capable = True  # Django's test Client: the rest of the chain stays synchronous there
    async_capable = True

    def __init__(self, get_response) -> None:
        from chat import views  # the views import the models: not before the apps are loaded

        self.get_response = get_response
        self.probes = {"/healthz": views.healthz, "/readyz": views.readyz}
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        probe = self.probes.get(request.path_info)
        return self.get_response(request) if probe is None else async_to_sync(probe)(request)

    async def __acall__(self, request):
        probe = self.probes.get(request.path_info)
        if probe is None:
            return await self.get_response(request)
        return await probe(request)


class SecurityMiddleware(OnTheLoop, _Security):
    pass


class SessionMiddleware(OnTheLoop, _Session):
    def response_needs_thread(self, request) -> bool:
        # Django's process_response saves (database, or a cache or file backend)
        # only when the session was modified or every request saves.
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class LocaleMiddleware(OnTheLoop, _Locale):
    pass


class CommonMiddleware(OnTheLoop, _Common):
    pass


class CsrfViewMiddleware(OnTheLoop, _Csrf):
    async def __acall__(self, request):
        if settings.CSRF_USE_SESSIONS:
            # The token lives in the session, which its methods may load: Django's way.
            return await MiddlewareMixin.__acall__(self, request)
        return await super().__acall__(request)

    async def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.method in SAFE_METHODS and not settings.CSRF_USE_SESSIONS:
            return super().process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(super().process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


class AuthenticationMiddleware(OnTheLoop, _Authentication):
    pass


class StaffSessionIdleMiddleware(OnTheLoop, MiddlewareMixin):
    """A signed-in staff member's page load keeps their session from idling out
    (chat/staff_sessions.py). Only a page that read the session (who is signed in) counts:
    the player's page never loads one, and loading it here would cost a query for nothing."""

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and session.accessed:
            staff_session_seen(session)  # read already: no query; a save follows in SessionMiddleware
        return response


class MessageMiddleware(OnTheLoop, _Messages):
    def response_needs_thread(self, request) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnTheLoop, _XFrameOptions):
    pass
