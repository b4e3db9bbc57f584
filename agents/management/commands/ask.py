"""Ask the bot one question from the shell, through the chat's own pipeline.

Operators use it to check a provider's configuration:
    LLM_PROVIDER=ernie ERNIE_API_KEY=... ERNIE_SECRET_KEY=... python manage.py ask "充值没到账"
"""

import asyncio
import sys

from django.core.management import BaseCommand

from agents.pipeline.prepare import prepare_for_question
from agents.pipeline.stream import answer_stream
from agents.providers import Delta, Finish, ProviderError, get_provider


class Command(BaseCommand):
    help = "Stream the bot's answer to one question to stdout."

    def add_arguments(self, parser):
        parser.add_argument("question")
        parser.add_argument("--language", default="", help="zh-hans or en (default: detected)")

    def handle(self, question: str, language: str, **options):
        try:
            asyncio.run(self._ask(question, language))
        except ProviderError as exc:
            sys.stdout.write("\n")
            sys.stdout.flush()
            sys.stderr.write(f"error: {get_provider().name} provider failed: {exc}\n")
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    async def _ask(self, question: str, language: str) -> None:
        prepared = await prepare_for_question(question, language=language)
        finish = Finish()
        async for item in answer_stream(prepared.reply, before_attempt=_go_ahead):
            if isinstance(item, Delta):
                sys.stdout.write(item.text)
                sys.stdout.flush()
            else:
                finish = item
        sys.stdout.write("\n")
        for source in prepared.sources:
            sys.stdout.write(f"[{source['n']}] {source['title']}\n")
        sys.stdout.flush()
        if finish.truncated:
            sys.stderr.write("note: the answer was cut off at the model's output limit\n")


async def _go_ahead() -> None:
    """No conversation, no takeover: every attempt may go ahead."""
