"""Run the fake ERNIE v1 server in the foreground, for development without keys.

    python manage.py fake_ernie --port 8900 --pace ernie
    LLM_PROVIDER=ernie ERNIE_BASE_URL=http://127.0.0.1:8900 ERNIE_API_KEY=k ERNIE_SECRET_KEY=s ./run.sh

Without --api-key/--secret-key it accepts any keys.
"""

import asyncio

from django.core.management import BaseCommand

from agents.fake_ernie import FakeErnieServer


class Command(BaseCommand):
    help = "Serve a fake ERNIE Bot v1 API (token + streaming chat) on localhost."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument(
            "--pace",
            choices=["ernie", "token"],
            help="ernie: 4-6 sentences 0.5-1 s apart (like ERNIE); token: 2-4 characters, 20 per second",
        )
        parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks (overrides the pace)")
        parser.add_argument("--first-delay", type=float, default=0.0, help="seconds before the first chunk")
        parser.add_argument("--api-key", default=None, help="the only API key accepted (default: any)")
        parser.add_argument("--secret-key", default=None, help="the only secret key accepted (default: any)")
        parser.add_argument("--crlf", action="store_true", help="end SSE lines with CRLF instead of LF")

    def handle(self, *args, **options):
        server = FakeErnieServer(
            api_key=options["api_key"],
            secret_key=options["secret_key"],
            pace=options["pace"],
            delay=options["delay"],
            first_delay=options["first_delay"],
            line_ending="\r\n" if options["crlf"] else "\n",
        )
        try:
            asyncio.run(self._serve(server, options["host"], options["port"]))
        except KeyboardInterrupt:
            pass

    async def _serve(self, server: FakeErnieServer, host: str, port: int) -> None:
        await server.start(host, port)
        self.stdout.write(f"fake ERNIE listening on {server.base_url}")
        self.stdout.write(f"  LLM_PROVIDER=ernie ERNIE_BASE_URL={server.base_url}")
        self.stdout.flush()
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()
