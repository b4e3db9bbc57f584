"""After collectstatic, production pages link their static files under names with their
content's hash, so a deploy's new JS is a new URL no browser has cached; without it (the
embedded default, the tests) they link the plain names (csbot/static_files.py)."""

from __future__ import annotations

import re

import requests
from django.templatetags.static import static

from tests import servers
from tests.test_static_files import static_links

HASHED = re.compile(r"^/static/.+\.[0-9a-f]{12}\.(js|css|svg)$")


def test_after_collectstatic_a_production_page_links_versioned_files_that_browsers_keep(tmp_path):
    env = servers.product_env(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        STATIC_ROOT=str(tmp_path / "static"),
        DEBUG="false",
        HELPER_PROCESSES="0",
        **servers.PRODUCTION_SECRETS,
    )
    servers.migrated_database(tmp_path / "db.sqlite3")
    servers.manage(env, "collectstatic", "--noinput")
    daphne = servers.Daphne(env, tmp_path / "daphne.log").start()
    try:
        page = requests.get(daphne.url + "/", timeout=10)
        linked = static_links(page.text)
        served = {url: requests.get(daphne.url + url, timeout=10) for url in linked}
    finally:
        daphne.stop()

    assert page.status_code == 200
    assert "/static/chat/player.js" not in linked
    assert any(re.match(r"^/static/chat/player\.[0-9a-f]{12}\.js$", url) for url in linked), linked
    assert all(HASHED.match(url) for url in linked), linked
    assert {url: response.status_code for url, response in served.items()} == dict.fromkeys(linked, 200)
    assert {response.headers["Cache-Control"] for response in served.values()} == {
        "public, max-age=31536000, immutable"
    }


def test_without_collectstatic_the_pages_link_the_plain_names(settings):
    settings.DEBUG = False  # as in production, before collectstatic ran

    assert static("chat/player.js") == "/static/chat/player.js"
