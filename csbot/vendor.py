"""The npm files the pages load, served at /static/vendor/<path under node_modules>.

node_modules holds far more than the pages use: each package's other builds, sources
and package.json, and its dependencies' (@types, @kurkle). Served as a whole directory
(STATICFILES_DIRS) all of it was copied by collectstatic into the image's staticfiles/
and answered by the web process. This finder offers the files listed here and nothing
else, at the same URLs, both to collectstatic and to the web process (SERVE_STATIC).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.utils import matches_patterns
from django.core.checks import CheckMessage, Warning
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor"

# Paths under node_modules, as the templates name them after `vendor/`.
FILES = (
    "marked/lib/marked.umd.js",  # the chat pages: Markdown in answers (chat/static/chat/markdown.js)
    "dompurify/dist/purify.min.js",  # the chat pages: cleans marked's HTML
    "chart.js/dist/chart.umd.min.js",  # the analytics pages' charts
)


class VendorFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        self.storage = FileSystemStorage(location=settings.BASE_DIR / "node_modules")
        self.storage.prefix = PREFIX  # collectstatic puts the files under vendor/
        super().__init__()

    def check(self, **kwargs) -> list[CheckMessage]:
        missing = [name for name in FILES if not self.storage.exists(name)]
        if not missing:
            return []
        return [
            Warning(
                f"node_modules lacks the front-end files the pages load: {', '.join(missing)}.",
                hint="Run `npm ci` (scripts/bootstrap.sh does): without them answers show no "
                "Markdown and analytics no charts.",
                id="csbot.W002",
            )
        ]

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str]:
        name = path.removeprefix(f"{PREFIX}/")
        if name == path or name not in FILES or not self.storage.exists(name):
            return []  # as Django's finders: finders.find() would take a None for a match
        return [self.storage.path(name)] if find_all else self.storage.path(name)

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, FileSystemStorage]]:
        for name in FILES:
            if self.storage.exists(name) and not matches_patterns(name, ignore_patterns):
                yield name, self.storage
