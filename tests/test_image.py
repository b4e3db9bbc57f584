"""The Docker image (Dockerfile) and the topology that runs it (docker-compose.yml).

Docker cannot build here, so these read the files for what a deployment relies on:
the processes are not root, the build tools (Node.js, npm, gettext) stay in the build
stage while its output (the static files a proxy serves, the compiled translations) is
in the image, and whatever the processes write goes where the image's user may write.
tests/test_static_files.py runs collectstatic itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.servers import ROOT


@dataclass
class Stage:
    base: str  # an image, or an earlier stage's name
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages in order, continuations joined, comments left out."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        keyword, arguments = line.split(None, 1)
        if keyword == "FROM":
            base, _, name = arguments.partition(" AS ")
            found.append(Stage(base.strip(), name.strip()))
        else:
            found[-1].instructions.append((keyword, arguments))
    return found


def the_final_image() -> list[Stage]:
    """The last stage and the stages it is built FROM, the base first: what ships."""
    by_name = {stage.name: stage for stage in stages() if stage.name}
    chain = [stages()[-1]]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    return chain


def dockerfile(keyword: str) -> list[str]:
    """The arguments of the final image's `keyword` instructions, its base stages' first."""
    return [arguments for stage in the_final_image() for arguments in stage.args(keyword)]


def build_stage() -> Stage:
    (build,) = [stage for stage in stages() if stage.name == "build"]
    return build


def image_user_home() -> str:
    (useradd,) = [run for run in dockerfile("RUN") if "useradd" in run]
    return re.search(r"--home-dir (\S+)", useradd).group(1)


def test_the_image_runs_as_an_unprivileged_user():
    users = dockerfile("USER")
    assert users, "no USER: every process runs as root"
    uid = users[-1].split(":")[0]
    assert uid == "10001"  # numeric, so Kubernetes' runAsNonRoot can check it
    assert f"--uid {uid}" in next(run for run in dockerfile("RUN") if "useradd" in run)


def test_node_npm_and_gettext_are_in_the_build_stage_only():
    build_tools = re.compile(r"\b(nodejs|npm|gettext|msgfmt)\b")

    assert [run for run in dockerfile("RUN") if build_tools.search(run)] == []
    assert not any("node_modules" in copy and "--from" not in copy for copy in dockerfile("COPY"))
    assert "build" not in [stage.name for stage in the_final_image()]  # only copied from
    assert any("apt-get install" in run and "nodejs npm gettext" in run for run in build_stage().args("RUN"))


def test_the_build_stage_installs_the_libraries_compiles_the_translations_and_collects_the_static_files():
    build = build_stage()
    runs = " && ".join(build.args("RUN"))
    steps = ["npm ci", "manage.py compilemessages", "manage.py collectstatic --noinput"]

    assert all(step in runs for step in steps)
    assert runs.index("npm ci") < runs.index("collectstatic")  # node_modules in place before it
    assert build.args("COPY")[-1] == ". ."  # the code and its static files too


def test_the_final_image_has_the_collected_static_files_and_the_compiled_translations():
    copied = dockerfile("COPY")
    workdir = dockerfile("WORKDIR")[-1]

    assert workdir == "/app"
    assert f"--from=build {workdir}/staticfiles {workdir}/staticfiles" in copied  # for a proxy (SERVE_STATIC=false)
    assert f"--from=build {workdir}/locale {workdir}/locale" in copied  # django.mo, compiled from django.po
    # SERVE_STATIC=true: csbot/vendor.py finds the vendor files in node_modules, which holds only those.
    assert f"--from=build {workdir}/staticfiles/vendor {workdir}/node_modules" in copied
    assert copied.index(". .") < copied.index(f"--from=build {workdir}/locale {workdir}/locale")  # not overwritten


def test_the_build_context_leaves_out_local_installs_and_outputs():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()

    assert {".venv/", "node_modules/", "staticfiles/", "db.sqlite3*"} <= set(ignored)


def test_what_the_processes_write_goes_in_the_image_users_home():
    home = image_user_home()
    compose = (ROOT / "docker-compose.yml").read_text()

    assert f"CELERY_BEAT_SCHEDULE_FILENAME={home}/celerybeat-schedule" in " ".join(dockerfile("ENV"))  # beat's
    assert f"find {home} -maxdepth 1 -name 'celerybeat-schedule*'" in compose  # beat's healthcheck
    assert f"SQLITE_PATH={home}/" in " ".join(dockerfile("ENV"))  # the embedded default's database


def test_every_setting_reaches_the_composed_processes_from_dot_env():
    """docker-compose.yml's `environment` lists a few settings; before, the others an
    operator put in .env (OPENAI_MODEL, ALERT_WEBHOOK_URL, AUTO_ASSIGN) never reached the
    processes, which ran on their defaults without a word."""
    import yaml

    app = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-app"]
    assert app["env_file"] == [{"path": ".env", "required": False}]
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["env_file"] == app["env_file"], name


def test_the_readme_says_how_to_create_the_first_account_and_import_the_knowledge_base_under_compose():
    """A newcomer deploying with compose found no way to create the first login or load
    their knowledge base, which the image does not hold: README's commands run in the
    `web` service, whose mount is where they import from."""
    import yaml
    from django.core.management import get_commands

    readme = (ROOT / "README.md").read_text()
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]

    commands = re.findall(r"^docker compose run --rm web python manage\.py (\S+) ?(\S*)", readme, re.M)
    assert {"createsuperuser", "kb_import"} <= {name for name, _ in commands}
    assert {name for name, _ in commands} <= set(get_commands())  # each is a real command
    (kb,) = [argument for _, argument in commands if argument.startswith("/")]
    assert web["volumes"] == ["${KB_DIR:-./kb}:" + kb.rstrip("/") + ":ro"]  # read-only, where kb_import reads
    assert "kb/" in (ROOT / ".dockerignore").read_text().splitlines()  # mounted, never baked in
