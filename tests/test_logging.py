"""A csbot process's log, as run.sh starts it (DEBUG on, Celery eager): each line once,
formatted, and no noise an operator would chase."""

from __future__ import annotations

from tests import servers

# What Django's handler does for a 403 and a 404 (django.utils.log.log_response), then the
# first eager Celery task of the process.
SCRIPT = """
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.utils.log import log_response
try:
    raise PermissionDenied
except PermissionDenied as exc:
    log_response("Forbidden (Permission denied): %s", "/analytics/", response=HttpResponseForbidden(), exception=exc)
log_response("Not Found: %s", "/nope", response=HttpResponseNotFound())
from csbot.celery import app
@app.task
def noop():
    pass
noop.delay()
"""


def test_request_warnings_come_once_formatted_and_a_403_without_its_traceback(tmp_path):
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), LOG_LEVEL="WARNING")
    logged = servers.manage(env, "shell", "-c", SCRIPT).stderr.strip().splitlines()

    assert len(logged) == 2, logged
    assert logged[0].endswith(" WARNING django.request Forbidden (Permission denied): /analytics/")
    assert logged[1].endswith(" WARNING django.request Not Found: /nope")
