"""Static files with their content's hash in their names, once collectstatic has run.

The pages named /static/chat/player.js: after a deploy a browser could keep running the
player.js it had cached against the new server's frames (heuristic caching, a proxy's
cache). collectstatic (the image's build, README's release step) now writes each file
also under a name with its hash (player.3f2a9c1b.js) and a manifest of them
(staticfiles.json); with the manifest there and DEBUG off, the pages link the hashed
names, so a changed file is a new URL, and the web process (SERVE_STATIC) serves them
from STATIC_ROOT, telling browsers to keep them for a year.

Without the manifest (the embedded default, a checkout, the tests) the pages link the
plain names, served from the apps and node_modules as before: nothing to run first.
"""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage, StaticFilesStorage, staticfiles_storage
from django.contrib.staticfiles.views import serve as serve_from_finders
from django.http import FileResponse, HttpRequest
from django.views.static import serve as serve_from_directory

# A year: a hashed name's content never changes.
VERSIONED_MAX_AGE = 365 * 24 * 3600


class VersionedStaticFilesStorage(ManifestStaticFilesStorage):
    # CSS url()s only: the npm builds' `//# sourceMappingURL=` names .map files that are not
    # collected (csbot/vendor.py), and collectstatic would fail on each.
    patterns = tuple((glob, rules) for glob, rules in ManifestStaticFilesStorage.patterns if glob == "*.css")

    @property
    def versioned(self) -> bool:
        """collectstatic's manifest is there, and DEBUG off (with it on, Django links plain names)."""
        return bool(self.hashed_files) and not settings.DEBUG

    @cached_property
    def versioned_names(self) -> frozenset[str]:
        return frozenset(self.hashed_files.values())

    def url(self, name: str | None, force: bool = False) -> str:
        if not self.hashed_files:  # collectstatic has not run here: the finders serve the plain names
            return StaticFilesStorage.url(self, name)
        return super().url(name, force)


def serve(request: HttpRequest, path: str) -> FileResponse:
    """A static file for the web process (SERVE_STATIC): the collected one when versioned."""
    if not getattr(staticfiles_storage, "versioned", False):
        return serve_from_finders(request, path, insecure=True)
    response = serve_from_directory(request, path, document_root=settings.STATIC_ROOT)
    if path in staticfiles_storage.versioned_names:
        response["Cache-Control"] = f"public, max-age={VERSIONED_MAX_AGE}, immutable"
    else:  # a plain name (an old page's): it changes with the next deploy
        response["Cache-Control"] = "no-cache"
    return response
