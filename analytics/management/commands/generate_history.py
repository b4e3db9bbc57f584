"""Generate a realistic support history so the analytics pages can be seen with data.

manage.py generate_history --conversations 5000 --days 30
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from analytics.history import HistoryGenerator, clear_generated


class Command(BaseCommand):
    help = "Generate players, conversations, messages, events, ratings and knowledge gaps, then the analytics."

    def add_arguments(self, parser):
        parser.add_argument("--conversations", type=int, default=5000)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--batch", type=int, default=2000, help="conversations written per transaction")
        parser.add_argument("--clear", action="store_true", help="delete an earlier generated history first")

    def handle(self, *args, conversations: int, days: int, seed: int, batch: int, clear: bool, **options):
        if conversations < 1 or days < 1:
            raise CommandError("--conversations and --days must be at least 1")
        if clear:
            self.stdout.write(f"deleted {clear_generated()} rows of an earlier history")
        started = time.monotonic()
        result = HistoryGenerator(conversations=conversations, days=days, seed=seed).run(
            batch=batch, log=self.stdout.write
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{result['conversations']} conversations of {result['players']} players over {days} days, "
                f"{result['gaps']} knowledge gaps, {result['aggregate_rows']} aggregate rows "
                f"in {time.monotonic() - started:.1f} s"
            )
        )
