"""Time the analytics pages and tasks on the current database (docs/benchmarks.md).

    DATABASE_URL=... manage.py generate_history --conversations 100000 --days 30
    DATABASE_URL=... manage.py analytics_bench

Pages are requested in-process through Django's test client as a manager, so the
figures are server time (view, queries, template), without network or browser.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count, Max, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import Aggregate, ConversationStats, KnowledgeGap
from analytics.services import aggregation, anomalies, resolution, stats
from chat.models import Conversation, Message

PAGES = ["/analytics/", "/analytics/intents/", "/analytics/sentiment/", "/analytics/agents/", "/analytics/gaps/",
         "/analytics/anomalies/"]  # fmt: skip
BENCH_USER = "analytics-bench-manager"


class Command(BaseCommand):
    help = "Measure analytics page and task times on this database."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, repeat: int, **options):
        out = self.stdout.write
        counts = {
            "conversations": Conversation.objects.count(),
            "messages": Message.objects.count(),
            "stats": ConversationStats.objects.count(),
            "aggregate rows": Aggregate.objects.count(),
            "knowledge gaps": KnowledgeGap.objects.count(),
        }
        span = Conversation.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
        out(f"database: {connection.vendor}; " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        out(f"history: {span['first']:%Y-%m-%d} .. {span['last']:%Y-%m-%d}")

        client = self._client()
        today = timezone.localdate()
        out("\n| page | range | median ms | max ms | queries |")
        out("|---|---|---:|---:|---:|")
        for days in (1, 7, 30):
            query = f"?start={today - timedelta(days=days - 1)}&end={today}"
            for page in PAGES:
                self._time_page(client, page + query, f"{days} d", repeat)
        self._time_page(client, f"/analytics/{query}&format=csv", "30 d (CSV)", repeat)

        out("\n| work | ms |")
        out("|---|---:|")
        self._time("for comparison, a full scan: TTFT p95 of 30 days of messages", self._scan_p95)
        self._time(
            "for comparison, the overview's totals added up from 30 days of stats rows instead of aggregates",
            lambda: aggregation.accumulate(
                ConversationStats.objects.filter(closed_at__gte=timezone.now() - timedelta(days=30)).iterator(2000)
            ),
        )
        recent = list(ConversationStats.objects.order_by("-closed_at").values_list("conversation_id", flat=True)[:100])
        self._time(
            "conversation_closed: stats of one conversation (mean of 100)",
            lambda: [stats.stats_compute(conversation_id=pk) for pk in recent],
            per=len(recent),
        )
        self._time("aggregate_recent: the hours those 100 closes made dirty", aggregation.aggregate_dirty)
        self._time("finalize_resolution: settle every pending chat", resolution.resolution_update)
        self._time("detect_anomalies: every signal, the baselines read again", self._detect_cold)
        self._time("detect_anomalies: every signal, the baselines kept (most runs)", anomalies.anomalies_detect)

    def _client(self) -> Client:
        user, _ = User.objects.get_or_create(username=BENCH_USER)
        user.groups.add(Group.objects.get_or_create(name="manager")[0])
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    def _time_page(self, client: Client, url: str, label: str, repeat: int) -> None:
        client.get(url)  # warm: templates compiled, connection open
        times, queries = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured.captured_queries)
        path = url.split("?")[0]
        self.stdout.write(f"| `{path}` | {label} | {statistics.median(times):.0f} | {max(times):.0f} | {queries} |")

    def _time(self, label: str, work, per: int = 1) -> None:
        started = time.perf_counter()
        work()
        elapsed = (time.perf_counter() - started) * 1000 / per
        self.stdout.write(f"| {label} | {elapsed:.1f} |")

    def _detect_cold(self) -> None:
        anomalies.usual.forget()
        anomalies.anomalies_detect()

    def _scan_p95(self) -> None:
        since = timezone.now() - timedelta(days=30)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) FROM chat_message"
                    " WHERE sender = 'bot' AND ttft_ms IS NOT NULL AND created_at >= %s",
                    [since],
                )
                cursor.fetchone()
        else:
            values = sorted(
                Message.objects.filter(sender="bot", ttft_ms__isnull=False, created_at__gte=since).values_list(
                    "ttft_ms", flat=True
                )
            )
            values[int(len(values) * 0.95)] if values else None
        Conversation.objects.filter(created_at__gte=since).aggregate(n=Count("pk"))
