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


# A client that goes away mid-request, as Django's handler sees it, logged as daphne logs an
# exception the application raised; then a real crash, logged the same way.
CLIENT_GONE = """
import asyncio, logging
from django.core.handlers.asgi import ASGIHandler
async def receive():
    return {"type": "http.disconnect"}
try:
    asyncio.run(ASGIHandler().listen_for_disconnect(receive))
except Exception as exc:
    logging.getLogger("daphne.server").error("Exception inside application: %s", exc, exc_info=exc)
    from django.http import HttpResponseServerError
    from django.test import RequestFactory
    from django.utils.log import log_response
    request = RequestFactory().get("/readyz")
    error = HttpResponseServerError()
    log_response("Internal Server Error: %s", "/readyz", response=error, request=request, exception=exc)
try:
    raise ValueError("a real bug")
except ValueError as exc:
    logging.getLogger("daphne.server").error("Exception inside application: %s", exc, exc_info=exc)
"""


def test_a_probe_that_gives_up_mid_request_is_an_info_line_while_a_crash_stays_an_error(tmp_path):
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), LOG_LEVEL="INFO")
    logged = servers.manage(env, "shell", "-c", CLIENT_GONE).stderr.strip().splitlines()

    assert logged[0].endswith(" INFO daphne.server a client went away before its answer: a request"), logged
    assert logged[1].endswith(" INFO django.request a client went away before its answer: /readyz"), logged
    assert logged[2].endswith(" ERROR daphne.server Exception inside application: a real bug"), logged
    assert logged[3] == "Traceback (most recent call last):"
    assert not any("RequestAborted" in line for line in logged)


def test_a_client_gone_is_not_logged_at_all_above_info(tmp_path):
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), LOG_LEVEL="WARNING")
    logged = servers.manage(env, "shell", "-c", CLIENT_GONE).stderr.strip().splitlines()

    assert logged[0].endswith(" ERROR daphne.server Exception inside application: a real bug"), logged
