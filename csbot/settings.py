"""csbot settings.

Every value that differs between deployments comes from the environment. With
nothing set, the embedded default applies: SQLite, the in-memory channel layer,
Celery eager and the offline `local` LLM provider. Setting DATABASE_URL and
REDIS_URL switches to PostgreSQL, channels_redis, a Redis answer buffer and
Celery on Redis: the same code path, other backends.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from agents.providers import PROVIDERS as LLM_PROVIDERS  # reads no setting on import
from analytics.services.alert_formats import FORMATS as ALERT_WEBHOOK_FORMATS  # no Django imports
from csbot.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_str_or_off, require_set

BASE_DIR = Path(__file__).resolve().parent.parent

DEMO_SECRET_KEY = "csbot-embedded-default-insecure-key-change-me"
DEMO_PLAYER_TOKEN_SECRET = "csbot-demo-player-token-secret"

SECRET_KEY = env_str("SECRET_KEY", DEMO_SECRET_KEY)
# Earlier keys, still accepted while what they signed ages out: rotating SECRET_KEY alone
# signs every player out of their chat (their cookie, chat/identity.py) and staff out too.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
for _host in ALLOWED_HOSTS:
    if "/" in _host:
        # Django would answer every request 400 (and refuse every socket's origin) once players came.
        raise ImproperlyConfigured(
            f"ALLOWED_HOSTS holds {_host!r}, a URL: list host names only "
            f"({_host.split('://')[-1].split('/')[0]!r}); origins go in CSRF_TRUSTED_ORIGINS."
        )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# A form refused for a Secure CSRF cookie the browser dropped over plain http says so.
CSRF_FAILURE_VIEW = "csbot.csrf_failure.csrf_failure"

# Behind a proxy that terminates TLS, daphne sees plain http: Django would call an https
# Origin a cross-site POST (staff could not log in) and the player cookie would go out
# without Secure. Trust the proxy's X-Forwarded-Proto only when told to: a client that
# reaches the web process directly could send the header itself.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production (DEBUG off) is served over https, so its session and CSRF cookies are
# never sent in clear; the embedded default (DEBUG on) runs over plain http and keeps
# working. A deployment with DEBUG off on plain http must say false here.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# HSTS and the redirect to https are off until the operator turns them on: both need https
# to work first (a browser that saw HSTS refuses plain http to the host for that long), and
# behind a proxy that terminates TLS both need TRUST_X_FORWARDED_PROTO, without which every
# request looks like plain http (the header never goes out; the redirect loops: csbot/https_checks.py warns).
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes call the web process itself over plain http (docker-compose.yml's healthcheck, a
# load balancer's): a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# The Content-Security-Policy of every page (csbot/csp.py): scripts, styles, images and
# connections from csbot's own origin only ('self' covers the same host's ws:/wss:), so
# an answer that names a third-party URL can't make a browser fetch it. The pages need
# nothing else; data: is for images a Markdown answer embeds. Empty
# (set, but to nothing): no header.
DEFAULT_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
CONTENT_SECURITY_POLICY = env_str_or_off("CONTENT_SECURITY_POLICY", DEFAULT_CONTENT_SECURITY_POLICY)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chat",
    "agents",
    "analytics",
]

# Django's own, each running on the event loop under ASGI instead of hopping to a
# thread twice per request (csbot/middleware.py), after csbot's Content-Security-Policy
# (csbot/csp.py), which runs there too.
MIDDLEWARE = [
    "csbot.csp.ContentSecurityPolicyMiddleware",  # outermost: on every response, redirects and errors too
    "csbot.middleware.ProbesMiddleware",  # /healthz, /readyz: before the Host is checked, whatever it is
    "csbot.middleware.SecurityMiddleware",
    "csbot.middleware.SessionMiddleware",
    "csbot.middleware.LocaleMiddleware",
    "csbot.middleware.CommonMiddleware",
    "csbot.middleware.CsrfViewMiddleware",
    "csbot.middleware.AuthenticationMiddleware",
    "csbot.middleware.StaffSessionIdleMiddleware",  # inside SessionMiddleware, which saves what it marks
    "csbot.middleware.MessageMiddleware",
    "csbot.middleware.XFrameOptionsMiddleware",
]

# Per process. "template_fragments" holds the {% cache %} fragments of the pages
# (templates/chat/player.html): they vary only with the language and the code,
# and a deploy restarts the process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "template_fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fragments"},
}

ROOT_URLCONF = "csbot.urls"
# The error page (DEBUG on) hides the connection URLs too, and the secrets in them.
DEFAULT_EXCEPTION_REPORTER_FILTER = "csbot.error_reports.SettingsSecretsFilter"
ASGI_APPLICATION = "csbot.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL and not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    # Else dj_database_url's own error ("Scheme '://' is unknown", "Did you install
    # mysqlclient?") suggested another database would do. Not the value itself in the
    # message: it may hold the database's password.
    raise ImproperlyConfigured(
        "DATABASE_URL does not start with postgres:// or postgresql://: csbot runs on PostgreSQL "
        "(e.g. postgres://csbot:PASSWORD@127.0.0.1:5432/csbot), or on SQLite with DATABASE_URL unset "
        "(README, Configuration)."
    )
if DATABASE_URL:
    # Under ASGI every sync_to_async thread keeps its own persistent connection
    # (CONN_MAX_AGE): measured here, 80 page loads left 79 connections open and
    # PostgreSQL refused clients at N=500. A per-process psycopg pool instead.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        pool_min, pool_max = env_int("DB_POOL_MIN", 2), env_int("DB_POOL_MAX", 20)
        if not 0 <= pool_min <= pool_max or pool_max < 1:
            # Else every process started and then failed every request at its first query.
            raise ImproperlyConfigured(
                f"DB_POOL_MIN ({pool_min}) and DB_POOL_MAX ({pool_max}) must be 0 <= DB_POOL_MIN <= DB_POOL_MAX, "
                "and DB_POOL_MAX at least 1."
            )
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": pool_min,
            "max_size": pool_max,
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "csbot.sqlite",  # Django's, with writers taking turns (csbot/sqlite/base.py)
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # A file test database (one per test process), so that threads share it.
            "TEST": {"NAME": os.path.join(tempfile.gettempdir(), f"csbot-test-{os.getpid()}.sqlite3")},
            # Kept open by each thread and helper process. Opening one (its PRAGMAs, Django's
            # SQL functions) and closing it (the last one out checkpoints the WAL) on every
            # call was a third of the embedded default's CPU under load (docs/benchmarks-history.md,
            # "The seventh round"). SQLite has no server to run out of connections; requests
            # borrow pooled threads (csbot/asgi_http.py), and a thread that ends closes its
            # connection, lock file included, when its locals go (csbot/sqlite/base.py).
            "CONN_MAX_AGE": None,
            # WAL lets readers go on while the answer jobs write (measured: rollback-journal
            # checkpoints of 0.1-0.9 s at N=100 on the embedded default).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, answer buffer, Celery -------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    # Else the processes start and only the chats fail, each player's socket closing at once.
    # Not the value itself in the message: it may hold Redis's password.
    raise ImproperlyConfigured(
        "REDIS_URL does not start with redis://, rediss:// or unix://: write it as a URL, "
        "e.g. redis://127.0.0.1:6379/0 (README, Configuration)."
    )
# The prefix of csbot's keys in Redis: deployments (and test runs) sharing one Redis each need their own.
CHANNEL_PREFIX = env_str("CHANNEL_PREFIX", "csbot")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": CHANNEL_PREFIX,
                # A full channel makes group_send drop silently; clients resume
                # from the answer buffer when they see a gap, but a roomy
                # capacity keeps that rare.
                "capacity": env_int("CHANNEL_CAPACITY", 1000),
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
    ANSWER_BUFFER = "chat.streaming.buffer.RedisAnswerBuffer"
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}
    ANSWER_BUFFER = "chat.streaming.buffer.MemoryAnswerBuffer"

# memory:// names a host: without one, kombu warned "No hostname was supplied" on every
# process's first eager task, as if a broker were misconfigured.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"
# Where beat keeps its schedule (its --schedule, when given, wins): the image's processes can
# write only their home (Dockerfile), and beat started as README says would fail in /app.
CELERY_BEAT_SCHEDULE_FILENAME = env_str("CELERY_BEAT_SCHEDULE_FILENAME", "celerybeat-schedule")
# However many beats run, only the one holding a lock in Redis sends (csbot/beat.py): another
# waits, and takes over within BEAT_LOCK_SECONDS of the holder's death.
CELERY_BEAT_SCHEDULER = "csbot.beat:SingleBeatScheduler"
BEAT_LOCK_SECONDS = max(3.0, env_float("BEAT_LOCK_SECONDS", 30.0))
# One beat sends it (csbot/beat.py; on the embedded default the web process runs this schedule
# itself: csbot/embedded_beat.py). Analytics: stats of missed closes and dirty hours,
# honest resolution once its 24 h window passes, anomaly detection, the worker
# heartbeat. Each expires before its next run, so a stopped worker does not come back
# to a pile. ANALYTICS_REFRESH_SECONDS: how soon a closed chat shows on the pages.
ANALYTICS_REFRESH_SECONDS = max(1.0, env_float("ANALYTICS_REFRESH_SECONDS", 60.0))
# The chats of an agent absent this long (no dashboard open, or none heard from within
# AGENT_PRESENCE_SECONDS) go back to the queue, the player told so: the beat entry
# chat-requeue-abandoned looks every HELD_CHAT_SWEEP_SECONDS (chat/handoff.py,
# abandoned_chats_requeue). An agent back before then keeps them.
HELD_CHAT_ABANDONED_SECONDS = env_float("HELD_CHAT_ABANDONED_SECONDS", 300.0)
HELD_CHAT_SWEEP_SECONDS = max(1.0, env_float("HELD_CHAT_SWEEP_SECONDS", 30.0))
CELERY_BEAT_SCHEDULE = {
    "analytics-aggregate-recent": {
        "task": "analytics.tasks.aggregate_recent",
        "schedule": ANALYTICS_REFRESH_SECONDS,
        "options": {"expires": ANALYTICS_REFRESH_SECONDS * 0.9},
    },
    "analytics-finalize-resolution": {
        "task": "analytics.tasks.finalize_resolution",
        "schedule": 600.0,
        "options": {"expires": 550},
    },
    "analytics-detect-anomalies": {
        "task": "analytics.tasks.detect_anomalies",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Chats held by an agent who left for good go back to the queue (HELD_CHAT_ABANDONED_SECONDS).
    "chat-requeue-abandoned": {
        "task": "chat.tasks.requeue_abandoned_chats",
        "schedule": HELD_CHAT_SWEEP_SECONDS,
        "options": {"expires": HELD_CHAT_SWEEP_SECONDS * 0.9},
    },
    # Page loads that never opened the chat (crawlers, scripts): their players go (chat/silent_visitors.py).
    "chat-delete-silent-visitors": {
        "task": "chat.tasks.delete_silent_visitors",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "analytics-worker-heartbeat": {
        "task": "analytics.tasks.worker_heartbeat",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
}
# Alerts are POSTed here (docs/metrics.md) when set, in the body the receiver accepts:
# csbot's own JSON, or a WeCom / DingTalk group robot's or a Slack incoming webhook's.
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
# A robot sent a body it does not accept drops every alert; better not to start.
ALERT_WEBHOOK_FORMAT = env_choice("ALERT_WEBHOOK_FORMAT", "json", ALERT_WEBHOOK_FORMATS, "a body csbot cannot post")
# Knowledge gaps found while answering are sent to analytics as one task per batch
# (analytics/gap_batch.py): this long after a batch's first gap, or at once at the max.
KNOWLEDGE_GAP_BATCH_SECONDS = env_float("KNOWLEDGE_GAP_BATCH_SECONDS", 2.0)
KNOWLEDGE_GAP_BATCH_MAX = env_int("KNOWLEDGE_GAP_BATCH_MAX", 200)
# Threads for the web process's other database work (csbot/db.py).
DB_THREADS = env_int("DB_THREADS", min(32, (os.cpu_count() or 1) + 4))
# Helper processes per web process that store player messages and prepare answers
# (csbot/helper_pool.py), at this much lower CPU priority (nice) than the streams.
# 0: the same work in DB_THREADS threads, sharing the event loop's GIL.
HELPER_PROCESSES = env_int("HELPER_PROCESSES", 2)
HELPER_NICE = env_int("HELPER_NICE", 10)
# Questions a busy helper holds in its pipe behind the call it is running, to go on to
# at once rather than wait for the event loop to hand it the next (0: none). On SQLite
# that brought first tokens sooner; on PostgreSQL it did not, and the busier helpers'
# queries, run by PostgreSQL's un-niced backends, delayed the streams' chunks
# (docs/benchmarks-history.md, "The seventeenth round").
HELPER_QUESTIONS_AHEAD = env_int("HELPER_QUESTIONS_AHEAD", 1 if DATABASES["default"]["ENGINE"] == "csbot.sqlite" else 0)

# --- Auth ---------------------------------------------------------------------
# Django's four: staff passwords guard every player's chats and data, and a common one
# ("password123", "qwertyuiop") is the first an attacker tries, throttle or not.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
# A staff sign-in ends after this long without a page load or anything done on the
# dashboard (chat/staff_sessions.py): someone who walks away from a shared desk is signed
# out. Django's database sessions, whose rows expire sooner once signed in.
STAFF_SESSION_IDLE_MINUTES = max(1, env_int("STAFF_SESSION_IDLE_MINUTES", 480))
SESSION_ENGINE = "chat.staff_sessions"
# Password guessing on the staff sign-in (and the admin's): after this many failed
# sign-ins with one username from one address within the window, that username is refused
# there until the oldest failure leaves the window; an address that failed the second
# number of times, whatever the usernames, is refused for all (chat/sign_in_throttle.py).
SIGN_IN_FAILURES_ALLOWED = max(1, env_int("SIGN_IN_FAILURES_ALLOWED", 5))
SIGN_IN_ADDRESS_FAILURES_ALLOWED = max(1, env_int("SIGN_IN_ADDRESS_FAILURES_ALLOWED", 20))
SIGN_IN_WINDOW_SECONDS = max(1, env_int("SIGN_IN_WINDOW_SECONDS", 900))
LOGIN_REDIRECT_URL = "/staff/"

# --- I18N ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("简体中文"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own number formats before Django's: Chinese numbers get their thousands separator (csbot/formats).
FORMAT_MODULE_PATH = ["csbot.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
# The language of the alerts POSTed to ALERT_WEBHOOK_URL: a webhook has no reader to ask, and
# the team reading it in its chat tool may not read LANGUAGE_CODE's English.
ALERT_LANGUAGE = env_choice("ALERT_LANGUAGE", LANGUAGE_CODE, tuple(dict(LANGUAGES)), "a language csbot does not speak")
USE_TZ = True

# --- Static -------------------------------------------------------------------
STATIC_URL = "/static/"
# Where collectstatic writes (and, once it has, the web process serves from: csbot/static_files.py).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Front-end libraries come from npm (package.json): of node_modules, only the files the
# pages load are collected and served, at /static/vendor/ (csbot/vendor.py).
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "csbot.vendor.VendorFinder",
]
SERVE_STATIC = env_bool("SERVE_STATIC", True)
# collectstatic also writes each file under a name with its hash, and the pages link those
# once it has run (DEBUG off): a deploy's new JS is a new URL (csbot/static_files.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "csbot.static_files.VersionedStaticFilesStorage"},
}

# --- Players ------------------------------------------------------------------
# The game backend signs player tokens with this secret (docs/protocol.md).
PLAYER_TOKEN_SECRET = env_str("PLAYER_TOKEN_SECRET", DEMO_PLAYER_TOKEN_SECRET)
# The demo secrets are published in this file: with them anyone can forge staff sessions
# (SECRET_KEY) or sign in as any player and have the bot's tools act on that player's
# orders, bans and mail (PLAYER_TOKEN_SECRET). Production (DEBUG off) refuses to start
# with either, here rather than in a system check, since Celery's worker and beat run none.
# So does a deployment that left DEBUG on while serving a host others reach (ALLOWED_HOSTS
# beyond this machine's names): DEBUG on is the embedded default, not a promise that
# nobody else can connect.
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "testserver"}  # testserver: Django's test client
_PUBLIC_HOSTS = [host for host in ALLOWED_HOSTS if host not in _LOCAL_HOSTS]
if not DEBUG or _PUBLIC_HOSTS:
    _why = "DEBUG is off" if not DEBUG else f"ALLOWED_HOSTS names {', '.join(_PUBLIC_HOSTS)}, which others reach"
    for _name, _value, _demo in (
        ("SECRET_KEY", SECRET_KEY, DEMO_SECRET_KEY),
        ("PLAYER_TOKEN_SECRET", PLAYER_TOKEN_SECRET, DEMO_PLAYER_TOKEN_SECRET),
    ):
        if _value in ("", _demo):
            # An empty variable reads as unset (csbot/env.py), so as the demo value: say which.
            _unset = "unset or empty" if not os.environ.get(_name, "").strip() else "the published demo value"
            raise ImproperlyConfigured(
                f"{_name} is {_unset} and {_why}: "
                f"set {_name} to a long random secret of this deployment's own (README, Production)."
            )
    if DEMO_SECRET_KEY in SECRET_KEY_FALLBACKS:
        raise ImproperlyConfigured(
            f"SECRET_KEY_FALLBACKS holds the published demo value and {_why}: anyone could forge "
            "staff sessions with it. Remove it (README, Production)."
        )
PLAYER_COOKIE_NAME = "csbot_player"
PLAYER_COOKIE_MAX_AGE = env_int("PLAYER_COOKIE_MAX_AGE", 60 * 60 * 24 * 365)
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 2000)
CHAT_MAX_FRAME_BYTES = env_int("CHAT_MAX_FRAME_BYTES", 32 * 1024)
# A message the page lets through must fit in a frame: a frame refused as too_large is
# not read (chat/validation.py), so its `error` can't name the message, which the page
# then neither sends again nor gives back, and staff get only its first lines. A
# character takes at most 6 bytes of the frame's JSON (a control character's \uXXXX);
# the rest of the frame (type, client_id, intent) well under 1 KB.
LONGEST_MESSAGE_FRAME_BYTES = 6 * CHAT_MAX_MESSAGE_CHARS + 1024
if CHAT_MAX_FRAME_BYTES < LONGEST_MESSAGE_FRAME_BYTES:
    raise ImproperlyConfigured(
        f"CHAT_MAX_FRAME_BYTES ({CHAT_MAX_FRAME_BYTES}) is too small for messages of CHAT_MAX_MESSAGE_CHARS "
        f"({CHAT_MAX_MESSAGE_CHARS}) characters, whose frames take up to {LONGEST_MESSAGE_FRAME_BYTES} bytes: "
        "raise CHAT_MAX_FRAME_BYTES to at least that, or lower CHAT_MAX_MESSAGE_CHARS."
    )
# How fast one player may send (chat/flood.py): this many messages at once, then this
# many a minute on average; a message over it is refused and goes back in their box.
PLAYER_MESSAGE_BURST = max(1, env_int("PLAYER_MESSAGE_BURST", 10))
PLAYER_MESSAGES_PER_MINUTE = max(1.0, env_float("PLAYER_MESSAGES_PER_MINUTE", 30.0))
# How often a streaming answer's text so far is written to its database row.
ANSWER_CHECKPOINT_SECONDS = env_float("ANSWER_CHECKPOINT_SECONDS", 3.0)
# An answer still streaming after this long fails ("the answer took too long"), so that
# a row left `streaming` longer than this (plus ORPHAN_MARGIN_SECONDS) has no job
# writing it: its process stopped. Sooner than that, a row whose web process has not
# written its heartbeat for WEB_PROCESS_STALE_SECONDS (it writes one every sixth of
# that) has none either: the process died (chat/streaming/heartbeat.py). Every web
# process looks for such rows every ORPHAN_SWEEP_SECONDS and fails them, telling
# whoever follows the chat (chat/streaming/lifecycle.py). A web process that is stopped
# (SIGTERM) takes no new question and lets its running answers finish for up to
# ANSWER_SHUTDOWN_GRACE_SECONDS, then fails those still running itself. 20 s: most
# answers at ERNIE's pace end within it, and with the few seconds their storing takes it
# fits the 30 s Kubernetes gives a pod before SIGKILL.
ANSWER_MAX_SECONDS = env_float("ANSWER_MAX_SECONDS", 300.0)
ORPHAN_MARGIN_SECONDS = env_float("ORPHAN_MARGIN_SECONDS", 120.0)
ORPHAN_SWEEP_SECONDS = env_float("ORPHAN_SWEEP_SECONDS", 5.0)
WEB_PROCESS_STALE_SECONDS = max(1.0, env_float("WEB_PROCESS_STALE_SECONDS", 30.0))
ANSWER_SHUTDOWN_GRACE_SECONDS = max(0.0, env_float("ANSWER_SHUTDOWN_GRACE_SECONDS", 20.0))
ANSWER_BUFFER_TTL_SECONDS = env_int("ANSWER_BUFFER_TTL_SECONDS", 3600)
# The Redis answer buffer is written behind the stream (chat/streaming/buffer.py):
# at least this often, and before any delta goes to another process. A resume on
# another process reads text at most about this old (0: write every delta); like
# the row's checkpoint by default: at ERNIE pace (a chunk every 0.5-1 s) 1 s meant
# a write on most chunks (docs/benchmarks-history.md, "The fourth round").
ANSWER_BUFFER_FLUSH_SECONDS = env_float("ANSWER_BUFFER_FLUSH_SECONDS", 3.0)

# --- Staff and handoff (chat/handoff.py, chat/presence.py) ---------------------
# Give a chat that asks for a human straight to the least busy online agent.
AUTO_ASSIGN = env_bool("AUTO_ASSIGN", False)
# Chats an agent holds at once, for agents whose profile does not say otherwise.
AGENT_MAX_CHATS = env_int("AGENT_MAX_CHATS", 5)
# An agent whose dashboard has not been heard from for this long is not online.
AGENT_PRESENCE_SECONDS = env_int("AGENT_PRESENCE_SECONDS", 90)
# HELD_CHAT_ABANDONED_SECONDS and HELD_CHAT_SWEEP_SECONDS: with the beat schedule above.
# The bot asks for a human after this many answers in a row found nothing to say.
ESCALATE_AFTER_DONT_KNOW = env_int("ESCALATE_AFTER_DONT_KNOW", 2)
# ... and when the player's sentiment (-1..1, scored by agents/) falls to this.
ESCALATE_SENTIMENT_AT = env_float("ESCALATE_SENTIMENT_AT", -0.6)
# A player who comes back within this long after their chat was closed (staff may close
# it while they are away) sees its last messages and, unless they rated it, the rating card.
CLOSED_CHAT_SHOWN_SECONDS = env_int("CLOSED_CHAT_SHOWN_SECONDS", 24 * 3600)
# Dashboards' list rows that change are sent together, at most this often per process
# (chat/staff_notify.py); 0 sends each change at once.
STAFF_ROW_BATCH_SECONDS = env_float("STAFF_ROW_BATCH_SECONDS", 0.3)

# --- LLM ----------------------------------------------------------------------
LLM_PROVIDER = env_choice("LLM_PROVIDER", "local", LLM_PROVIDERS, "a provider csbot does not have")
LLM_CONNECT_TIMEOUT = env_float("LLM_CONNECT_TIMEOUT", 5.0)
# Longest silence allowed between two chunks (and before the first one).
LLM_READ_TIMEOUT = env_float("LLM_READ_TIMEOUT", 60.0)
LLM_MAX_ATTEMPTS = env_int("LLM_MAX_ATTEMPTS", 3)
LLM_RETRY_BACKOFF = env_float("LLM_RETRY_BACKOFF", 0.5)
# How long an answer waits out the provider's rate limit (its quota refreshes within a minute)
# before the player is handed to staff: agents/providers/retry.py.
LLM_RATE_LIMIT_WAIT = env_float("LLM_RATE_LIMIT_WAIT", 30.0)
LLM_TEMPERATURE = env_float("LLM_TEMPERATURE", 0.3)
LLM_HISTORY_CHARS = env_int("LLM_HISTORY_CHARS", 12000)
# The model may call the bot's tools (orders, bans, mail) itself: function calling. Off for a
# server or model that can't (one that refuses `tools` would fail every signed-in player's answer).
LLM_TOOLS = env_bool("LLM_TOOLS", True)

ERNIE_BASE_URL = env_str("ERNIE_BASE_URL", "https://aip.baidubce.com")
ERNIE_API_KEY = env_str("ERNIE_API_KEY")
ERNIE_SECRET_KEY = env_str("ERNIE_SECRET_KEY")
ERNIE_MODEL = env_str("ERNIE_MODEL", "completions_pro")

OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "https://qianfan.baidubce.com/v2")
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_MODEL = env_str("OPENAI_MODEL", "ernie-3.5-8k")
# Without its keys the provider fails every player's answer, while the process looks
# healthy: refuse to start instead, in every process (the worker's tasks ask it too).
_PROVIDER_KEYS = {"ernie": ("ERNIE_API_KEY", "ERNIE_SECRET_KEY"), "openai": ("OPENAI_API_KEY",)}
require_set(
    _PROVIDER_KEYS.get(LLM_PROVIDER, ()),
    needed_by=f"LLM_PROVIDER is {LLM_PROVIDER!r}",
    without="every answer would fail",
)

# Seconds between chunks of the offline provider, so that it reads like a stream.
LOCAL_PROVIDER_CHUNK_DELAY = env_float("LOCAL_PROVIDER_CHUNK_DELAY", 0.04)
LOCAL_PROVIDER_CHUNK_CHARS = env_int("LOCAL_PROVIDER_CHUNK_CHARS", 6)

KB_TOP_K = env_int("KB_TOP_K", 3)
# Embeddings for hybrid retrieval (agents/knowledge/embeddings.py): "" (BM25 only),
# "ernie" (Qianfan embedding endpoint, ERNIE_* credentials) or "openai" (any
# OpenAI-compatible /embeddings API).
EMBEDDING_PROVIDER = env_choice("EMBEDDING_PROVIDER", "", ("ernie", "openai"), "an embeddings API csbot does not know")
EMBEDDING_BASE_URL = env_str("EMBEDDING_BASE_URL", "")
EMBEDDING_API_KEY = env_str("EMBEDDING_API_KEY", "")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "embedding-v1")
EMBEDDING_TIMEOUT = env_float("EMBEDDING_TIMEOUT", 5.0)
_EMBEDDING_NEEDS = {"ernie": ("ERNIE_API_KEY", "ERNIE_SECRET_KEY"), "openai": ("EMBEDDING_BASE_URL",)}
require_set(
    _EMBEDDING_NEEDS.get(EMBEDDING_PROVIDER, ()),
    needed_by=f"EMBEDDING_PROVIDER is {EMBEDDING_PROVIDER!r}",
    without="every document would be indexed without embeddings",
)

# --- The bot's brain: intents, facts, tools (agents/) ---------------------------
# Where the game's internal systems live; tool URLs say {GAME_BACKEND_URL}.
# Tools send their auth header from the environment (Tool.auth_env, e.g. GAME_BACKEND_AUTH).
GAME_BACKEND_URL = env_str("GAME_BACKEND_URL", "http://127.0.0.1:8765")
# The environment variables a tool may send as its auth header, each with the origin it
# may go to ("": GAME_BACKEND_URL's), as `NAME` or `NAME=https://origin` (agents/tool_credentials.py).
TOOL_AUTH_ENV = {
    name.strip(): origin.strip()
    for name, _sep, origin in (entry.partition("=") for entry in env_list("TOOL_AUTH_ENV", ["GAME_BACKEND_AUTH"]))
}
if not DEBUG:
    # The default is the demo backend, which only run.sh starts: in production every tool
    # call would fail, and players read that their order could not be checked.
    require_set(
        ("GAME_BACKEND_URL",),
        needed_by="DEBUG is off",
        without="the bot's tools (orders, bans, mail) would call the demo backend on 127.0.0.1:8765, "
        "which only run.sh starts",
    )
# With an LLM provider the LLM can name the intent, the offline classifier being
# the fallback when it fails or takes longer than INTENT_LLM_TIMEOUT: "always",
# "unsure" (only when the offline classifier is not sure: the default, since
# asking costs an extra upstream round trip before the first token) or "off".
INTENT_LLM = env_choice("INTENT_LLM", "unsure", ("always", "unsure", "off"))
INTENT_LLM_TIMEOUT = env_float("INTENT_LLM_TIMEOUT", 1.0)
# Load jieba and the knowledge index when the web process starts, not on the first question.
WARM_UP_ON_START = env_bool("WARM_UP_ON_START", True)

# While PostgreSQL can't be reached, each process logs so once, then again this often,
# and once when it can (csbot/log_filters.py, DatabaseOutage).
DB_UNREACHABLE_LOG_SECONDS = max(1.0, env_float("DB_UNREACHABLE_LOG_SECONDS", 60.0))

# --- Logging ------------------------------------------------------------------
# Everything goes to the root's one handler. Django's own default config gives the
# `django` logger an unformatted console handler of its own when DEBUG is on: every
# django.request line came out twice. And a 403 is routine (an agent opening a manager's
# page): its line says so, without PermissionDenied's traceback (csbot/log_filters.py).
# psycopg's pool, with PostgreSQL down, says so in three lines, not several a second (ibid.).
# Else logging's own "Unable to configure root logger" did not say which variable was wrong.
LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "no_permission_denied_traceback": {"()": "csbot.log_filters.NoPermissionDeniedTraceback"},
        "client_gone": {"()": "csbot.log_filters.ClientGone"},
        "database_outage": {"()": "csbot.log_filters.DatabaseOutage", "level": LOG_LEVEL},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["no_permission_denied_traceback", "client_gone"]},
        "daphne": {"level": "WARNING"},
        # Where daphne logs an exception the application raised ("Exception inside application").
        "daphne.server": {"filters": ["client_gone"]},
        "jieba": {"level": "WARNING"},
        "psycopg.pool": {"level": "INFO", "filters": ["database_outage"]},
    },
}
