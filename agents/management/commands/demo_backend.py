"""Serve the demo game backend (agents/demo_backend.py).

Usage: python manage.py demo_backend --port 8765
Requests must carry `Authorization: $GAME_BACKEND_AUTH` when that variable is set.
"""

import os

from django.core.management import BaseCommand

from agents.demo_backend import DemoBackend


class Command(BaseCommand):
    help = "Serve the demo game backend: order status, ban status and mail lookups."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args, host: str, port: int, **options):
        backend = DemoBackend(auth=os.environ.get("GAME_BACKEND_AUTH", ""))
        self.stdout.write(f"Demo game backend on http://{host}:{port}/")
        self.stdout.flush()
        backend.serve_forever(host, port)
