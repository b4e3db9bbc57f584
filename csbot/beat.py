"""Celery beat's scheduler: however many beats run, one sends the schedule.

Two beats (a second `celery beat` started by hand, a deploy that starts the new one before
the old one stops, `--scale beat=2`) each sent every entry: alerts went out twice, and the
worker ran every aggregation twice. Nothing in Celery prevents it. So each beat sends only
while it holds a lock in Redis (REDIS_URL), which it renews every third of
BEAT_LOCK_SECONDS; another beat waits, looking as often, and takes the lock over within
BEAT_LOCK_SECONDS of the holder's death (a stopped beat gives it back at once). The holder
writes when it last sent each entry beside the lock (`<CHANNEL_PREFIX>:beat:last-run`), and a
beat taking over reads it first: its own schedule, never sent, held every entry due at once,
and the takeover sent each again, however lately the other beat had.

Started by `celery beat` (settings.CELERY_BEAT_SCHEDULER). On the embedded default the web
process runs the schedule itself (csbot/embedded_beat.py) and this plays no part; nor does
it without REDIS_URL, where there is no Redis to hold a lock in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery.beat import PersistentScheduler, ScheduleEntry
from django.conf import settings
from redis import Redis, RedisError
from redis.exceptions import LockError

from csbot.runner import runner_name

log = logging.getLogger(__name__)


class BeatLock:
    """The lock that lets one beat send: taken when free, renewed while held."""

    def __init__(self, client: Redis, key: str, seconds: float) -> None:
        self.client = client
        self.key = key
        self.seconds = seconds
        self.lock = client.lock(key, timeout=seconds, thread_local=False)
        self.held = False
        self._said = ""  # the last state logged: a waiting beat looks every few seconds, and says so once

    @classmethod
    def from_settings(cls) -> BeatLock | None:
        if not settings.REDIS_URL:
            return None
        client = Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, f"{settings.CHANNEL_PREFIX}:beat", settings.BEAT_LOCK_SECONDS)

    @property
    def look_every(self) -> float:
        # Three renewals per lease: a slow tick or a Redis hiccup does not lose it.
        return self.seconds / 3

    def hold(self) -> bool:
        """True while this beat holds the lock (renewed now), or has just taken it."""
        try:
            if self.held:
                self.lock.reacquire()  # its lease starts again; LockError if another beat has it
            else:
                self.held = self.lock.acquire(blocking=False, token=runner_name())
        except LockError:
            self.held = False
        except RedisError as exc:
            # Without Redis a beat can't tell whether another sends: none does until it is back.
            self.held = False
            self._say("unreachable", logging.WARNING, "beat: Redis can't be reached (%s): sending nothing", exc)
            return False
        if self.held:
            self._say("sending", logging.INFO, "beat: this beat (%s) sends the schedule", runner_name())
        else:
            holder = self.client.get(self.key)
            self._say(
                "waiting",
                logging.INFO,
                "beat: another beat (%s) sends the schedule; this one waits to take over if it stops",
                holder.decode() if holder else "gone",
            )
        return self.held

    def release(self) -> None:
        """A beat that stops gives the lock back, so that a waiting one takes over at once."""
        if not self.held:
            return
        self.held = False
        try:
            self.lock.release()
        except (LockError, RedisError):  # expired or taken meanwhile, or Redis is away: it expires
            pass

    def _say(self, state: str, level: int, message: str, *args: object) -> None:
        if state != self._said:
            self._said = state
            log.log(level, message, *args)


class SingleBeatScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, sending only while this beat holds the BeatLock."""

    def __init__(self, *args, **kwargs) -> None:
        self.beat_lock = BeatLock.from_settings()
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        if self.beat_lock is None:
            return super().tick(*args, **kwargs)
        was_held = self.beat_lock.held
        if not self.beat_lock.hold():
            return self.beat_lock.look_every
        if not was_held:
            self._catch_up()
        # Back before the lease runs out, however long until the next entry is due.
        return min(super().tick(*args, **kwargs), self.beat_lock.look_every)

    def reserve(self, entry: ScheduleEntry) -> ScheduleEntry:
        """The entry is being sent: the other beats are told when, for their takeover."""
        sent = super().reserve(entry)
        if self.beat_lock is not None:
            try:
                self.beat_lock.client.hset(self._last_run_key, entry.name, sent.last_run_at.timestamp())
            except RedisError:  # the lock's next renewal says so: then none sends
                log.warning("beat: could not record when %s was sent", entry.name)
        return sent

    @property
    def _last_run_key(self) -> str:
        return f"{self.beat_lock.key}:last-run"

    def _catch_up(self) -> None:
        """Taking over: each entry last ran when the beat before sent it, if that is later."""
        try:
            sent = self.beat_lock.client.hgetall(self._last_run_key)
        except RedisError:
            return
        for name, entry in self.schedule.items():
            stamp = sent.get(name.encode())
            if stamp is None:
                continue
            at = datetime.fromtimestamp(float(stamp), tz=UTC)
            if entry.last_run_at is None or self._aware(entry.last_run_at) < at:
                entry.last_run_at = at

    def _aware(self, moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=self.app.timezone)

    def close(self) -> None:
        super().close()
        if self.beat_lock is not None:
            self.beat_lock.release()
