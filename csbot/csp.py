"""The Content-Security-Policy header, on every response that goes through Django.

csbot shows text it did not write as HTML: the LLM's answers and agents' messages,
as Markdown (chat/static/chat/markdown.js). DOMPurify keeps scripts out of it, but a
prompt-injected answer can still ask the browser to load things from elsewhere (an
image whose URL carries the chat's data away). The policy (CONTENT_SECURITY_POLICY)
tells the browser to load scripts, styles, images and connections from csbot's own
origin only, so anything that gets past the page's own checks is refused by the
browser. The pages have no inline scripts or styles for it to allow: their CSS and
JavaScript are static files, and their data is JSON in <script type="application/json">,
which is never run.

Static files (served by csbot/asgi_http.py, or by a proxy) bypass the middleware:
they are not documents a policy applies to.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

from csbot.middleware import OnTheLoop

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware(OnTheLoop, MiddlewareMixin):
    def process_response(self, request, response):
        policy = settings.CONTENT_SECURITY_POLICY
        # A view that set a policy of its own keeps it.
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response
