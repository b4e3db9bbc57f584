"""Step 4: what the bot knows for the answer: knowledge-base passages, or a tool's result."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents import tools
from agents.follow_ups import leans_on_the_topic
from agents.knowledge.retrieval import search, search_topic
from agents.pipeline.context import Context
from agents.pipeline.facts import FactsResult
from agents.pipeline.intent import IntentResult
from agents.pipeline.sentiment import Mood
from agents.process_questions import asks_about_the_process
from agents.providers import Passage
from agents.tools import ToolResult
from csbot.db import in_worker


async def passages_for(context: Context) -> list[Passage]:
    """`_passages` from async code (the `ask` command), in a worker thread."""
    return await in_worker(_passages, context)


@dataclass
class Knowledge:
    """What the bot knows for this answer: passages, or a tool's result."""

    passages: list[Passage] = field(default_factory=list)
    tool_result: ToolResult | None = None
    searched: bool = False


def gather(context: Context, intent: IntentResult, facts: FactsResult, mood: Mood) -> Knowledge:
    """Sync (ORM, the index, a tool's HTTP call): call the intent's tool when it has what it
    needs, else search the knowledge base. Run it in a worker thread.

    Nothing is looked up when a human takes over (anger, or the player asked).
    A tool is only called with the conversation's verified player id (agents/tools.py).
    """
    if mood.escalate or (intent.spec and intent.spec.action == "handoff"):
        return Knowledge()
    spec = intent.spec
    if spec and spec.action == "tool" and spec.tool and not facts.missing:
        answered_by_the_article = _looked_up_just_now(context, spec.tool, facts) or asks_about_the_process(
            context.question
        )
        if answered_by_the_article and search(context.question, language=context.language):
            # "how do I appeal" right after the ban lookup: the same lookup would only say the
            # same again; the help center answers what the player asks now. "封号申诉要多久" is
            # about the appeal, not the player's own ban: "no ban record" would not answer it.
            return Knowledge(_passages(context, intent), searched=True)
        result = tools.call(spec.tool, facts=facts.values, verified_player_id=context.verified_player_id)
        if result.error != "not_verified":
            return Knowledge(tool_result=result)
        # Not signed in through the game: answer from the knowledge base, and say why.
        return Knowledge(_passages(context, intent), tool_result=result, searched=True)
    return Knowledge(_passages(context, intent), searched=True)


def _looked_up_just_now(context: Context, tool: tools.ToolSpec, facts: FactsResult) -> bool:
    """The bot's previous answer was this tool's result for the same arguments."""
    try:
        arguments = tools.tool_arguments(tool, facts=facts.values, verified_player_id=context.verified_player_id)
    except tools.MissingArguments:
        return False
    return any(
        call.get("tool") == tool.name and call.get("ok") and call.get("params") == arguments
        for call in context.last_bot_meta.get("tool_calls") or ()
    )


def _passages(context: Context, intent: IntentResult | None = None) -> list[Passage]:
    if not context.question.strip():
        return []
    if intent is not None and intent.spec is not None and _on_the_topic(context, intent):
        # "and on iOS?" alone finds the devices the game runs on; with the chat's topic
        # ("Top-up not received"), what it asks about the top-up.
        question = f"{context.question} {intent.spec.label(context.language)}"
    else:
        question = context.question
    found = search(question, language=context.language)
    if intent is None or intent.spec is None:
        return found
    topic = search_topic(intent.spec.label(context.language), language=context.language)[:1]
    if not found:
        # A question in the player's own words can share too little with the article of
        # the topic it was recognised as: "I lost my Frostfang Sword" is mostly a name the
        # help center never mentions. The topic's own name finds its article.
        return topic
    # "游戏一直闪退，用的苹果手机" shares 苹果 and 手机 with the FAQ on binding an Apple
    # account: the article of the recognised topic (crashes) comes first when it was found.
    ours = [passage for passage in found if topic and passage.source_id == topic[0].source_id]
    if topic and not ours and intent.name == context.topic:
        # "i never cheated" after the ban article, read as the same topic: its "never" found the
        # phishing section ("our staff will **never** ask"). With the topic's name the question
        # finds what the topic's article says of it, if anything.
        again = search(f"{context.question} {intent.spec.label(context.language)}", language=context.language)
        if again and again[0].source_id == topic[0].source_id:
            return again
    return ours + [passage for passage in found if passage not in ours]


def _on_the_topic(context: Context, intent: IntentResult) -> bool:
    """A follow-up that leaves out its subject, answered within the topic the chat was on."""
    return intent.source in ("topic", "follow_up") and leans_on_the_topic(context.question)
