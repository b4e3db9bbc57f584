"""Runs the steps before the provider, top to bottom, timing each one.

One player message, once, before anything streams (never per delta):

1. context    the conversation as the bot sees it           pipeline/context.py
2. intent     what the player wants; sentiment: how they feel pipeline/intent.py, sentiment.py
3. facts      what the intent needs, from what they wrote    pipeline/facts.py
4. retrieval  knowledge-base passages, or a tool's result    pipeline/retrieval.py
5. prompt     the reply: a provider request or own words     pipeline/prompt.py
then the answer job (chat/streaming/jobs.py) runs
6. stream     the answer's text                              pipeline/stream.py
7. postprocess quick replies, forms, knowledge gaps          pipeline/postprocess.py

Steps 1-5 are plain sync functions run together in ONE call, in a helper
process (csbot/helper_pool.py: never on the event loop, and not competing with
it for the GIL; a worker thread with HELPER_PROCESSES=0): each hop costs CPU,
and a thousand chats starting at once queue for the pool. The answer job runs
`all_steps` in the same call that stores its answer's row
(chat/streaming/jobs.py), then `completed`. The only step that leaves the
helper is an LLM naming the intent (settings.INTENT_LLM), which streams on the
event loop; the steps after it run in a second call. A tool's HTTP call
(requests) runs inside the call.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from agents import services
from agents.catalogue import Catalogue
from agents.pipeline import facts, intent, prompt, retrieval, sentiment
from agents.pipeline.context import Context, context_for_conversation, context_for_question
from agents.pipeline.intent import IntentResult
from agents.pipeline.prompt import Reply
from agents.providers import ChatRequest
from csbot.db import in_worker
from csbot.helper_pool import in_helper

T = TypeVar("T")


@dataclass
class PreparedAnswer:
    context: Context
    reply: Reply
    sources: list[dict]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Why the bot answers as it does, stored with its message (Message.meta).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def request(self) -> ChatRequest | None:
        return self.reply.request


class _Timer:
    """Milliseconds per step, for Message.meta["timings_ms"] (sync steps, in the worker thread)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def step(self, name: str, work: Callable[..., T], *args) -> T:
        started = time.perf_counter()
        try:
            return work(*args)
        finally:
            self.timings[name] = round((time.perf_counter() - started) * 1000, 2)


@dataclass
class _Understood:
    """Steps 1-2 done: what the rest of the steps start from."""

    context: Context
    intent: IntentResult
    # Set when the LLM should name the intent before the rest (the catalogue to ask with).
    ask_llm_with: Catalogue | None
    timings: dict[str, float]


def _understand(conversation_id: int, known: dict | None) -> _Understood:
    """Sync: steps 1-2 (the context, the intent without the LLM)."""
    timings: dict[str, float] = {}
    timer = _Timer(timings)
    context = timer.step("context", functools.partial(context_for_conversation, known=known), conversation_id)
    understood, ask_with = timer.step("intent", intent.detect_offline, context)
    return _Understood(context, understood, ask_with, timings)


def _rest(context: Context, understood: IntentResult, timings: dict[str, float], *, store: bool) -> PreparedAnswer:
    """Sync: steps 2b-5 (sentiment, facts, storing them, retrieval, the reply)."""
    timer = _Timer(timings)
    mood, known, understood = _mood_and_facts(context, understood, timer, store=store)
    knowledge = timer.step("retrieval", retrieval.gather, context, understood, known, mood)
    reply = timer.step("prompt", prompt.compose, context, understood, known, mood, knowledge)
    meta: dict[str, Any] = {
        "intent": understood.as_meta(),
        "facts": known.as_meta(),
        "sentiment": mood.as_meta(),
        "reply": reply.kind,
        # The same list as reply.tool_calls: a tool the model calls while streaming is added to it.
        "tool_calls": reply.tool_calls,
    }
    if knowledge.tool_result:
        reply.tool_calls.append(knowledge.tool_result.as_meta())
    if reply.asked:
        meta["asked"] = reply.asked
    if reply.escalate:
        meta["escalate"] = reply.escalate
    if reply.knowledge_gap:
        meta["knowledge_gap"] = True
        meta["dont_know"] = True
    # Only an answer built on the passages cites them: under the bot's own words ("Tell me what
    # happened" to "this game is garbage", which found the FAQ on the game's language) they are
    # noise, and a reload, which reads the stored meta, showed none.
    sources = prompt.sources_for(knowledge.passages) if reply.request is not None else []
    return PreparedAnswer(context, reply, sources, timings, meta)


def _mood_and_facts(
    context: Context, understood: IntentResult, timer: _Timer, *, store: bool, unasked: bool = False
) -> tuple[sentiment.Mood, facts.FactsResult, IntentResult]:
    """Sync: steps 2b-3 (sentiment, facts) and, with `store`, keeping them for staff.

    Returns the intent too: an outburst names none ("this game is garbage" reads as a bug
    report to the classifier), nor does "客服在吗" (staff would read "Talk to a human" as its
    topic) or "算了", and the chat's topic stays the one before it."""
    mood = timer.step("sentiment", sentiment.assess, context)
    if understood.source not in ("quick_reply", "form") and prompt.names_no_topic(context.question, mood):
        understood = replace(understood, name="", spec=None, source="none")
    known = timer.step("facts", functools.partial(facts.collect, unasked=unasked), context, understood)
    if store and context.conversation_id:
        timer.step("store", _remember, context, understood, known, mood)
    return mood, known, understood


def understanding_only(conversation_id: int, known: dict | None = None) -> None:
    """Sync: steps 1-3 stored for staff, for a message the bot will not answer.

    A player who asks for a person goes to the queue without an answer, and the agent
    who picks the chat up should still see how upset they are, what they want and the
    order they named. The intent is the offline one even when INTENT_LLM is set: asking
    the LLM would leave the helper for the event loop, and no answer waits on it here.
    """
    understood = _understand(conversation_id, known)
    found = understood.intent
    topic = (understood.context.last_bot_meta.get("intent") or {}).get("name", "")
    if found.spec is not None and found.spec.action == "handoff" and topic:
        # "I want a person" says how they want it handled, not what it is about: the agent
        # who picks the chat up sees the topic the player was on ("Lost items"), kept.
        found = replace(found, name="", spec=None)
    # No answer asks for what the player gives here (an agent's "Which server?"): what stands on
    # its own in it is kept too, for the agent and for the bot after a hand-back.
    _mood_and_facts(understood.context, found, _Timer(understood.timings), store=True, unasked=True)


def all_steps(conversation_id: int, known: dict | None = None) -> PreparedAnswer | _Understood:
    """Sync: every step in one go, or steps 1-2 when the LLM must name the intent first (see `completed`).

    `known`: the conversation's columns, when the caller has them (context_for_conversation)."""
    understood = _understand(conversation_id, known)
    if understood.ask_llm_with is not None:
        return understood
    return _rest(understood.context, understood.intent, understood.timings, store=True)


def _remember(context: Context, understood, known, mood) -> None:
    services.understanding_save(
        conversation_id=context.conversation_id,
        message_id=context.message_id,
        intent=understood.name,
        facts=known.values,
        sentiment=mood.as_meta(),
    )


async def prepare_for_conversation(conversation_id: int) -> PreparedAnswer:
    return await completed(await in_worker(all_steps, conversation_id))


async def completed(done: PreparedAnswer | _Understood) -> PreparedAnswer:
    """What `all_steps` returned, made a whole answer: the LLM's intent and steps 2b-5 when it stopped early."""
    if isinstance(done, PreparedAnswer):
        return done
    # The LLM names the intent (on the event loop: it streams), then the rest in a second hop.
    started = time.perf_counter()
    named = await intent.with_llm(done.context, done.intent, done.ask_llm_with)
    done.timings["intent"] += round((time.perf_counter() - started) * 1000, 2)
    return await in_helper(_rest, done.context, named, done.timings, store=True)


async def prepare_for_question(question: str, *, language: str = "") -> PreparedAnswer:
    """A knowledge-base answer to one question, outside any conversation (the `ask` command)."""
    context = context_for_question(question, language=language)
    started = time.perf_counter()
    passages = await retrieval.passages_for(context)
    timings = {"retrieval": round((time.perf_counter() - started) * 1000, 2)}
    reply = Reply("answer", request=prompt.build_request(context, passages))
    return PreparedAnswer(context, reply, prompt.sources_for(passages), timings)
