"""The Docker image (Dockerfile) and the topology that runs it (docker-compose.yml).

Docker cannot build here, so these read the two files for what a deployment relies
on: the processes are not root, the static files a proxy serves are in the image, and
whatever the processes write goes where the image's user may write.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.core.management import call_command
from django.template.loader import get_template

from tests.servers import ROOT


def dockerfile(keyword: str) -> list[str]:
    """The arguments of the Dockerfile's `keyword` instructions, in order, continuations joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.split(None, 1)[:1] == [keyword]]


def image_user_home() -> str:
    (useradd,) = [run for run in dockerfile("RUN") if "useradd" in run]
    return re.search(r"--home-dir (\S+)", useradd).group(1)


def test_the_image_runs_as_an_unprivileged_user():
    users = dockerfile("USER")
    assert users, "no USER: every process runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so Kubernetes' runAsNonRoot can check it
    assert f"--uid {uid}" in next(run for run in dockerfile("RUN") if "useradd" in run)


def test_the_image_collects_the_static_files_a_proxy_serves():
    runs = dockerfile("RUN")
    collect = next((i for i, run in enumerate(runs) if "manage.py collectstatic --noinput" in run), None)
    assert collect is not None, "no collectstatic: a proxy (SERVE_STATIC=false) would have nothing to serve"
    assert dockerfile("COPY")[-1] == ". ."  # the code, static files and node_modules are in place by then


def test_what_the_processes_write_goes_in_the_image_users_home():
    home = image_user_home()
    compose = (ROOT / "docker-compose.yml").read_text()

    assert f'"--schedule={home}/celerybeat-schedule"' in compose  # beat's command
    assert f"find {home} -maxdepth 1 -name 'celerybeat-schedule*'" in compose  # beat's healthcheck
    assert f"SQLITE_PATH={home}/" in " ".join(dockerfile("ENV"))  # the embedded default's database


def test_collectstatic_gathers_every_file_the_pages_link_to(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)

    pages = ["chat/player.html", "chat/staff.html", "analytics/base.html"]
    linked = {
        path
        for page in pages
        for path in re.findall(r"{% static '([^']+)' %}", Path(get_template(page).origin.name).read_text())
    }
    assert {"vendor/marked/lib/marked.umd.js", "vendor/chart.js/dist/chart.umd.min.js"} <= linked
    assert [path for path in sorted(linked) if not (tmp_path / path).is_file()] == []
