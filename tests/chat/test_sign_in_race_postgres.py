"""Password guesses in parallel on PostgreSQL: each sign-in is counted before its password
is checked, so a burst of simultaneous guesses gets no more checks than the limit
(chat/sign_in_throttle.py). The default test database, SQLite, serialises every write."""

from __future__ import annotations

import json

from tests import servers
from tests.chat.test_takeover_race_postgres import last_line

BURST = """
import json, threading
from django.db import connection
from chat.models import SignInAttempt
from chat.sign_in_throttle import SignInThrottled, sign_in_attempt
SignInAttempt.objects.filter(username="race-guessed").delete()
start, checked = threading.Barrier(24), []
def guess():
    start.wait()
    try:
        sign_in_attempt("race-guessed")
        checked.append(1)
    except SignInThrottled:
        pass
    finally:
        connection.close()
threads = [threading.Thread(target=guess) for _ in range(24)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"checked": len(checked), "rows": SignInAttempt.objects.filter(username="race-guessed").count()}))
"""


def test_twenty_four_simultaneous_guesses_get_at_most_five_password_checks(production_env):
    env = {**production_env, "SIGN_IN_FAILURES_ALLOWED": "5"}
    for _round in range(3):
        got = json.loads(last_line(servers.manage(env, "shell", "-c", BURST).stdout))
        assert got["checked"] <= 5 and got["rows"] == got["checked"], got
