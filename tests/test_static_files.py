"""The static files the pages load, and only those of node_modules, are collected for a
proxy (collectstatic) and served by the web process itself (SERVE_STATIC)."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import requests
from django.core.management import call_command
from django.urls import reverse

from analytics import urls as analytics_urls
from csbot.vendor import VendorFinder
from tests.e2e.staff_client import staff_login
from tests.servers import ROOT


def pages() -> list[str]:
    """Every page a player, an agent or a manager opens, and the admin's first."""
    analytics = [reverse(f"analytics:{pattern.name}") for pattern in analytics_urls.urlpatterns]
    return ["/", "/accounts/login/", "/staff/", *analytics, "/admin/"]


def vendor_files_the_templates_load() -> set[str]:
    """`vendor/…` in every `{% static '…' %}` of csbot's templates."""
    templates = [*(ROOT / "templates").rglob("*.html"), *ROOT.glob("*/templates/**/*.html")]
    return {
        path for template in templates for path in re.findall(r"{% static '(vendor/[^']+)' %}", template.read_text())
    }


class StaticLinks(HTMLParser):
    """The /static/ URLs of a page's <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        url = dict(attrs).get({"script": "src", "link": "href"}.get(tag, ""))
        if url and url.startswith("/static/"):
            self.urls.add(url)


def static_links(html: str) -> set[str]:
    parser = StaticLinks()
    parser.feed(html)
    return parser.urls


def test_collectstatic_gathers_the_vendor_files_the_pages_load_and_nothing_else_of_node_modules(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)

    loaded = vendor_files_the_templates_load()
    collected = {path.relative_to(tmp_path).as_posix() for path in (tmp_path / "vendor").rglob("*") if path.is_file()}
    # Each also under its content's hash, which the pages link (csbot/static_files.py).
    unhashed = {re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", path) for path in collected}
    assert {"vendor/marked/lib/marked.umd.js", "vendor/chart.js/dist/chart.umd.min.js"} <= loaded
    assert unhashed == loaded and len(collected) == 2 * len(loaded)  # no @types, no package.json, no other build
    assert (tmp_path / "chat" / "player.js").is_file() and (tmp_path / "analytics" / "charts.js").is_file()


def test_the_web_process_serves_every_static_file_the_pages_link_to_and_no_other_npm_file(chat_server):
    manager = requests.Session()
    manager.headers["Cookie"] = staff_login(chat_server.url, "manager", "manager-demo-2026")

    linked: set[str] = set()
    for page in pages():
        response = manager.get(chat_server.url + page, timeout=10)
        assert response.status_code == 200, page
        linked |= static_links(response.text)

    assert {f"/static/{path}" for path in vendor_files_the_templates_load()} <= linked
    assert {url: manager.get(chat_server.url + url, timeout=10).status_code for url in linked} == dict.fromkeys(
        linked, 200
    )
    unused = ["marked/package.json", "marked/lib/marked.esm.js", "@types/trusted-types/package.json"]
    assert [requests.get(f"{chat_server.url}/static/vendor/{path}", timeout=10).status_code for path in unused] == [
        404
    ] * len(unused)


def test_a_checkout_without_npm_ci_is_told_to_run_it(tmp_path, settings):
    settings.BASE_DIR = tmp_path  # no node_modules here

    (warning,) = VendorFinder().check()

    assert warning.id == "csbot.W002"
    assert "marked/lib/marked.umd.js" in warning.msg and "npm ci" in warning.hint
    assert VendorFinder().find("vendor/marked/lib/marked.umd.js") == []


def test_the_collected_vendor_files_are_all_the_image_needs_in_node_modules(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    call_command("collectstatic", "--noinput", verbosity=0)
    # The Dockerfile's `COPY --from=build /app/staticfiles/vendor /app/node_modules`.
    shutil.copytree(tmp_path / "staticfiles" / "vendor", tmp_path / "image" / "node_modules")
    settings.BASE_DIR = tmp_path / "image"

    finder = VendorFinder()
    assert finder.check() == []
    assert all(finder.find(path) for path in vendor_files_the_templates_load())
