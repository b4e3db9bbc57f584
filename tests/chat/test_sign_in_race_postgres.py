"""Password guesses in parallel on PostgreSQL: each sign-in is counted before its password
is checked, so a burst of simultaneous guesses gets no more checks than the limit, for one
username or over many from one address (chat/sign_in_throttle.py). The default test
database, SQLite, serialises every write."""

from __future__ import annotations

import json

from tests import servers
from tests.chat.test_takeover_race_postgres import last_line

BURST = """
import json, threading
from django.db import connection
from chat.models import SignInAttempt
from chat.sign_in_throttle import SignInThrottled, sign_in_attempt
SignInAttempt.objects.filter(address__in=["198.51.100.23", "198.51.100.99"]).delete()
def burst(usernames, address):
    start, checked = threading.Barrier(len(usernames)), []
    def guess(username):
        start.wait()
        try:
            sign_in_attempt(username, address)
            checked.append(1)
        except SignInThrottled:
            pass
        finally:
            connection.close()
    threads = [threading.Thread(target=guess, args=(name,)) for name in usernames]
    for t in threads: t.start()
    for t in threads: t.join()
    return {"checked": len(checked), "rows": SignInAttempt.objects.filter(address=address).count()}
print(json.dumps({
    "one_username": burst(["race-guessed"] * 24, "198.51.100.23"),
    "many_usernames": burst([f"race-sprayed-{n}" for n in range(24)], "198.51.100.99"),
}))
"""


def test_twenty_four_simultaneous_guesses_get_no_more_password_checks_than_the_limits(production_env):
    env = {**production_env, "SIGN_IN_FAILURES_ALLOWED": "5", "SIGN_IN_ADDRESS_FAILURES_ALLOWED": "8"}
    for _round in range(3):
        got = json.loads(last_line(servers.manage(env, "shell", "-c", BURST).stdout))
        one, many = got["one_username"], got["many_usernames"]
        assert one["checked"] <= 5 and one["rows"] == one["checked"], got
        assert many["checked"] <= 8 and many["rows"] == many["checked"], got
