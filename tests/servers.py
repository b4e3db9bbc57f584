"""Real processes for end-to-end tests: daphne, Celery workers, the product's commands."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def product_env(**overrides: str) -> dict[str, str]:
    """The environment of a product process: the embedded default unless overridden."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "LLM_PROVIDER"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "csbot.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            "WARM_UP_ON_START": "true",
        }
    )
    env.update(overrides)
    return env


# Production settings (DEBUG off) refuse the demo secrets and the demo game backend
# (csbot/settings.py): the tests' own (tests that call the backend set theirs).
PRODUCTION_SECRETS = {
    "SECRET_KEY": "csbot-tests-secret-key-of-their-own",
    "PLAYER_TOKEN_SECRET": "csbot-tests-player-token-secret-of-their-own",
    "GAME_BACKEND_URL": "http://127.0.0.1:9",
}


def setting_in_a_fresh_process(name: str, **env: str) -> str:
    """A setting as a new product process reads it from this environment (tests/conftest.py
    changes the settings of the test process itself).

    csbot/settings.py reads the environment, and refuses one it can't run with; Django's
    setup (the apps, logging: 0.8 s of CPU in each of the suite's dozens of these processes)
    adds nothing to what it read."""
    show = f"from django.conf import settings; print(settings.{name})"
    shown = subprocess.run(
        [sys.executable, "-c", show], env=product_env(**env), capture_output=True, text=True, check=True, cwd=ROOT
    )
    return shown.stdout.strip()


def refusal_to_start(**env: str) -> str:
    """The last line a new product process prints when its settings refuse this environment."""
    try:
        setting_in_a_fresh_process("DEBUG", **env)
    except subprocess.CalledProcessError as refused:
        return refused.stderr.strip().splitlines()[-1]
    raise AssertionError(f"csbot started with {env}")


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def scenario_printed(env: dict[str, str], module: str):
    """What `module.printed()` prints as JSON, run by `manage.py shell` in `env` (e.g. on PostgreSQL)."""
    script = f"from {module} import printed; printed()"
    return json.loads(manage(env, "shell", "-c", script).stdout.strip().splitlines()[-1])


class Daphne:
    """A daphne process serving csbot."""

    def __init__(self, env: dict[str, str], log_path: Path, *daphne_args: str, own_group: bool = False) -> None:
        self.env = env
        # In a process group of its own, with its helpers: a signal can reach them all, as
        # systemd's stop does (its default KillMode).
        self.own_group = own_group
        self.daphne_args = daphne_args  # before the bind, e.g. --proxy-headers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> Daphne:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "csbot.serve", *self.daphne_args, "-b", "127.0.0.1", "-p", str(self.port)]
            + ["csbot.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=self.own_group,
        )
        try:
            wait_for_port(self.port, proc=self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"daphne did not start:\n{self.log()}") from None
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "_log"):
            self._log.close()


_migrated_template: Path | None = None
_demo_template: Path | None = None


def migrated_database(path: Path) -> None:
    """A SQLite file at `path` as `manage.py migrate` leaves it, with no data. The migrations
    take 3-6 s on CI's busy cores in a process of their own: the test run runs them once and
    copies the file for each test that needs it."""
    global _migrated_template
    if _migrated_template is None:
        template = Path(tempfile.mkdtemp(prefix="csbot-migrated-db-")) / "db.sqlite3"
        manage(product_env(SQLITE_PATH=str(template)), "migrate", "--noinput")
        _migrated_template = template
    shutil.copyfile(_migrated_template, path)


def demo_database(path: Path) -> None:
    """A SQLite file at `path` with the demo data and accounts, as `./run.sh`'s migrate and
    demo_setup leave it. Those take 7 s, longer on CI's busy cores, and a dozen tests start a
    server of their own: the test run makes the file once and copies it for each."""
    global _demo_template
    if _demo_template is None:
        template = Path(tempfile.mkdtemp(prefix="csbot-demo-db-")) / "db.sqlite3"
        migrated_database(template)
        manage(product_env(SQLITE_PATH=str(template)), "demo_setup")
        _demo_template = template
    shutil.copyfile(_demo_template, path)


def demo_daphne(tmp: Path, **env: str) -> Daphne:
    """daphne on the embedded default, its SQLite file in `tmp`, with the demo data and
    accounts (`./run.sh`'s setup), started; `env` overrides the product's environment."""
    demo_database(tmp / "db.sqlite3")
    product = product_env(SQLITE_PATH=str(tmp / "db.sqlite3"), **env)
    return Daphne(product, tmp / "daphne.log").start()


def create_postgres_database(admin_url: str, name: str) -> str:
    """A fresh database for one test run; returns its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
