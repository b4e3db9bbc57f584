"""Step 5: what the bot replies: the request for the provider (system prompt, passages), or its own words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.conf import settings

from agents import answers
from agents import facts as fact_rules
from agents.catalogue import get_catalogue
from agents.facts import CLAIMED_PLAYER_ID, FactSpec
from agents.knowledge.tokenize import tokenize
from agents.not_helped import says_it_did_not_help
from agents.pipeline.context import Context
from agents.pipeline.facts import FactsResult, given, words_besides_the_details
from agents.pipeline.intent import IntentResult
from agents.pipeline.retrieval import Knowledge
from agents.pipeline.sentiment import Mood
from agents.providers import TOOL_CALLING, ChatRequest, Passage
from agents.sentiment import blames_the_game, hurries, repeats_themselves
from chat.handoff import asks_how_to_reach_support, asks_if_anyone_is_there, asks_who_answers
from chat.models import Message

SYSTEM_PROMPT = {
    "zh-hans": (
        "你是游戏《星落传说》的官方客服助手。只根据下面提供的知识库资料回答玩家的问题，"
        "在引用资料的句子后用 [编号] 标注来源。资料里没有答案时，坦白说不知道，并建议转人工客服。"
        "语气友好、简洁，使用简体中文。"
    ),
    "en": (
        "You are the official support assistant of the game Starfall Legends. Answer only from the "
        "knowledge-base passages below and cite them with [n] after the sentences that use them. "
        "When the passages do not hold the answer, say plainly that you do not know and offer a human agent. "
        "Be friendly and concise, and answer in English."
    ),
}


# An answer from the player's own record (a tool's) has no passages: told to answer only from
# passages and to say it doesn't know when they don't hold the answer, a model may do just that.
RECORD_PROMPT = {
    "zh-hans": (
        "你是游戏《星落传说》的官方客服助手。根据下面从游戏系统查到的玩家本人记录回答玩家的问题，"
        "不要编造记录里没有的内容；记录说明不了的，建议转人工客服。语气友好、简洁，使用简体中文。"
    ),
    "en": (
        "You are the official support assistant of the game Starfall Legends. Answer from the player's "
        "own record below, looked up in the game's systems, and add nothing the record does not say; "
        "for what it cannot explain, offer a human agent. Be friendly and concise, and answer in English."
    ),
}


def render_passages(passages: list[Passage]) -> str:
    return "\n\n".join(f"[{n}] {p.title}\n{p.text}" for n, p in enumerate(passages, start=1))


def build_request(
    context: Context, passages: list[Passage], *, notes: str = "", prompt: dict[str, str] = SYSTEM_PROMPT
) -> ChatRequest:
    """The provider request. `notes` are extra instructions for this answer (tool data, mood)."""
    lang = "zh-hans" if context.language.startswith("zh") else "en"
    system = prompt[lang]
    if notes:
        system = f"{system}\n\n{notes}"
    if passages:
        heading = "知识库资料：" if lang == "zh-hans" else "Knowledge-base passages:"
        system = f"{system}\n\n{heading}\n{render_passages(passages)}"
    return ChatRequest(
        system=system,
        messages=list(context.history),
        passages=passages,
        user_id=context.user_id,
        language=lang,
        temperature=settings.LLM_TEMPERATURE,
    )


def sources_for(passages: list[Passage]) -> list[dict]:
    """What the player sees under the answer, numbered like the [n] markers."""
    return [{"n": n, "title": p.title, "source_id": p.source_id} for n, p in enumerate(passages, start=1)]


# --- What the bot replies: a provider request, or its own words -------------------------


@dataclass
class Reply:
    """How the bot answers this message.

    The answer streams as prefix + body + suffix: the body comes from the
    provider when `request` is set, else it is `body`, the bot's own words
    (agents/answers.py). Quick replies and a form go under the answer.
    """

    kind: str  # answer, unknown, ask, tool, noted, guidance, vented, thanks, acknowledged, who_answers, here,
    # gave_up, awaiting_facts, repeated, not_helped, handoff
    request: ChatRequest | None = None
    body: str = ""
    prefix: str = ""
    suffix: str = ""
    quick_replies: list[dict] = field(default_factory=list)
    form_fields: list[dict] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    # Why a human is called after this answer ("" for no one).
    escalate: str = ""
    knowledge_gap: bool = False
    # For a tool the model asks for while answering (function calling, pipeline/stream.py).
    facts: dict = field(default_factory=dict)
    verified_player_id: str | None = None
    # Tool calls made for this answer (Message.meta["tool_calls"]); the stream step appends to it.
    tool_calls: list[dict] = field(default_factory=list)


def compose(context: Context, intent: IntentResult, facts: FactsResult, mood: Mood, knowledge: Knowledge) -> Reply:
    lang = "zh-hans" if context.language.startswith("zh") else "en"
    local = settings.LLM_PROVIDER == "local"
    catalogue = get_catalogue()
    human = {"label": answers.offer_human(lang), "intent": "human"} if "human" in catalogue.intents else None
    if mood.escalate:
        return Reply("handoff", body=answers.handover(lang, reason="sentiment"), escalate="sentiment")
    if asks_who_answers(context.question):
        # "are you a bot?": "bot" would find the article on botting bans, and "真人" the handoff
        # intent; the player asks what answers, and learns how to reach a person.
        return Reply("who_answers", body=answers.who_answers(lang), quick_replies=[human] if human else [])
    if asks_if_anyone_is_there(context.question):
        # "客服在吗", the opener most players send before their question: the classifier reads a
        # request for a person in it, and the queue would answer a greeting. They hear the bot
        # is here, are asked what happened, and a person is a tap away.
        return Reply("here", body=answers.here_to_help(lang), quick_replies=[human] if human else [])
    if context.last_bot and gives_up(context.question):
        # "ok whatever", "算了" after an answer: the menu of topics would ask them to start over
        # as if nothing had gone wrong. A short, kind line: a person, or one more try.
        return Reply("gave_up", body=answers.sorry_it_did_not_work_out(lang), quick_replies=[human] if human else [])
    if intent.spec and intent.spec.action == "handoff":
        return Reply("handoff", body=answers.handover(lang, reason="player_request"), escalate="player_request")
    prefix = _soothing(context.question, mood, lang) if mood.upset and local else ""
    repeating = _repeats_themselves(context)
    hurrying = hurries(context.question) and not repeats_themselves(context.question)
    # A nudge sent twice is still a nudge; any other message sent again, or "I've asked THREE
    # TIMES", is the player telling the bot its answer did not help (below).
    nudged = only_venting(context.question, mood) and (hurrying or not repeating)
    needed = _still_awaited(context, facts) if nudged else []
    if needed:
        # "hurry up" or "快点" to "What is the order number?": the bot knows what happened, and
        # asking the player to tell it again would read as not listening. What it still needs
        # to go on is the quickest way forward, with the form again (asked, so a second nudge
        # is met the same way).
        return Reply(
            "awaiting_facts",
            body=answers.needed_to_go_on(needed, lang),
            prefix=(answers.sorry_for_the_wait(lang) if hurrying else prefix) if local else "",
            asked=[spec.name for spec in needed],
            form_fields=[fact_rules.form_field(spec, lang) for spec in needed],
        )
    if context.last_bot and says_it_did_not_help(context.question):
        return _not_helped(context, facts, lang, human)
    if repeating and context.last_bot_meta.get("reply") == "repeated":
        # Again after the bot owned that its answer did not help and offered a person: a third
        # "I'm sorry" would read as scripted, the article again as not listening. A person
        # takes it from here.
        return Reply("handoff", body=answers.handover(lang, reason="dont_know"), escalate="dont_know")
    only_says_so = repeating and _only_says_so(context.question, mood)
    same_article = repeating and _same_article_again(context, knowledge)
    if only_says_so or same_article:
        # "I've asked THREE TIMES", or the article the last answer quoted once more: the same
        # answer a second time would tell the player nobody listens. Offered a person, who can
        # look into the case itself.
        offers = [human] if human else []
        if local:
            # A player who says they asked before, or is upset, hears the bot own it; a calm
            # one who only sent the question again, what the bot needs to look further (no
            # apology for a grievance they did not voice).
            if same_article and not mood.upset and not repeats_themselves(context.question):
                title = context.last_bot_meta["sources"][0]["title"]
                return Reply("repeated", body=answers.asked_again(title, lang), quick_replies=offers)
            return Reply("repeated", body=answers.sorry_to_repeat(lang), quick_replies=offers)
        # An LLM words it itself, from the chat it reads: told what happened rather than handed
        # the offline bot's fixed lines, which read the same however the player put it. A message
        # that only says so has nothing to look up: its search found no article of the case.
        passages = [] if only_says_so else knowledge.passages
        notes = _repeat_notes(lang, answers.offer_human(lang) if human else "")
        return Reply("repeated", request=build_request(context, passages, notes=notes), quick_replies=offers)
    if only_venting(context.question, mood):
        # "FUCK THIS GAME", "垃圾游戏": nothing to look up but the mood, and its words would find
        # an article on anything ("game"). The player hears they are heard, and is asked what
        # went wrong, with the topics and a person to choose from.
        # Anger at the game itself ("什么破游戏") hears the game owned, not "sorry for the wait".
        options = _topic_options(intent, catalogue, lang)
        sorry = answers.sorry_about_the_game if blames_the_game(context.question) else answers.soothe
        return Reply(
            "vented",
            body=answers.tell_me_what_happened(lang),
            prefix=sorry(lang, strong=mood.strong),
            quick_replies=options + ([human] if human else []),
        )
    notes = _mood_notes(lang) if mood.upset and not local else ""
    result = knowledge.tool_result
    if result is not None and result.error != "not_verified":
        if result.ok and not local:
            data = json.dumps(result.data, ensure_ascii=False)
            notes += _tool_notes(lang, result.tool, data)
            request = build_request(context, [], notes=notes.strip(), prompt=RECORD_PROMPT)
            return Reply("tool", request=request, prefix=prefix)
        extra = [human] if human and not result.ok else []
        return Reply("tool", body=answers.tool_answer(result, lang), prefix=prefix, quick_replies=extra)
    awaited = _still_awaited(context, facts) if _is_acknowledgement(context.question) else []
    if awaited:
        # "ok" to "What's your order number?" is no end of the topic: the bot still waits for
        # it, and shows the form again (only the newest answer's form can be filled in).
        return Reply(
            "awaiting_facts",
            body=answers.still_waiting(awaited, lang),
            prefix=prefix,
            asked=[spec.name for spec in awaited],
            form_fields=[fact_rules.form_field(spec, lang) for spec in awaited],
        )
    if facts.unknown and intent.source == "follow_up":
        # "s7" to "Which server do you play on?": the article once more would not say that
        # there is no S7, and the player would wonder why their answer went unseen.
        return Reply(
            "ask",
            body=answers.ask_for_facts(facts.to_ask, lang, facts.unknown),
            prefix=prefix,
            asked=[spec.name for spec in facts.to_ask],
            form_fields=[fact_rules.form_field(spec, lang) for spec in facts.to_ask],
        )
    # A visitor's lookup waits for them to sign in (not_verified): the details they just gave
    # are noted all the same, with what signing in takes, not the article again.
    needs_them = result is not None
    given = _details_given(context, intent, facts)
    if given and local:
        # "S2" after "Which server do you play on?": quoting the article the question followed
        # once more would only repeat it. (An LLM reads the chat and words this itself.) The
        # details still missing ("霜牙之剑" to "物品名称、服务器": the server) are asked for
        # again, with the form: asked once, they are not asked "twice" by saying what is left.
        still = facts.missing
        return Reply(
            "noted",
            body=answers.noted(given, facts.values, lang, still, verify=needs_them),
            prefix=prefix,
            quick_replies=[human] if human else [],
            asked=[spec.name for spec in still],
            form_fields=[fact_rules.form_field(spec, lang) for spec in still],
        )
    reply = Reply("answer", prefix=prefix)
    if human and asks_how_to_reach_support(context.question):
        # "客服电话是多少": the help center says how to reach support, and a person is a tap away.
        reply.quick_replies = [human]
    if facts.to_ask:
        reply.kind = "ask"
        reply.asked = [spec.name for spec in facts.to_ask]
        reply.form_fields = [fact_rules.form_field(spec, lang) for spec in facts.to_ask]
        if local and not knowledge.passages:
            # Nothing to quote, only details to ask for: the offline provider would say "I
            # couldn't find anything about this" before the form. An LLM gets the request
            # in its notes and words both together.
            reply.body = answers.ask_for_facts(facts.to_ask, lang, facts.unknown)
            return reply
        if local:
            reply.suffix = answers.ask_for_facts(facts.to_ask, lang, facts.unknown)
        else:
            notes += _ask_notes(lang, answers.ask_for_facts(facts.to_ask, lang, facts.unknown))
    elif given and facts.missing:
        # "霜牙之剑" to "物品名称、服务器" with an LLM: it notes the item in its own words, and the
        # player gets the form for what is still missing under them, as under the offline bot's.
        _still_needed(reply, facts.missing, lang, human)
        notes += _ask_notes(lang, answers.needed_to_go_on(facts.missing, lang))
    elif result is not None:  # the tool needs a verified player
        # "my order SL2025061201 didn't arrive" from a visitor: the order number is said back,
        # so that "I first need to know it's you" does not read as if it went unseen.
        reply.quick_replies = [human] if human else []
        verify = answers.verify_first(lang, answers.said_back(_details_known(intent, facts), facts.values, lang))
        if local:
            reply.suffix = verify
        else:
            notes += _ask_notes(lang, verify)
    if not knowledge.passages and not intent.name and not facts.to_ask:
        options = _topic_options(intent, catalogue, lang)
        if _is_thanks(context.question):
            # "Which of these is it about?" with a menu of topics is no reply to a thank-you.
            return Reply("thanks", body=answers.you_are_welcome(lang), prefix=prefix)
        if context.last_bot and _is_acknowledgement(context.question):
            # Nor to "ok" or "好的" after an answer: the player has read it, and asks nothing.
            return Reply("acknowledged", body=answers.anything_else(lang), prefix=prefix)
        if _is_vague(context.question):
            return Reply("guidance", body=answers.guidance(lang), prefix=prefix, quick_replies=options + [human])
        _nothing_found(reply, lang, human)
    elif not knowledge.passages and knowledge.searched and not facts.to_ask and reply.kind != "noted":
        _nothing_found(reply, lang, human)
    if repeating and human not in reply.quick_replies:
        # An answer the player has not had yet, and a way to a person should it not help either.
        reply.quick_replies.append(human)
    reply.quick_replies = [option for option in reply.quick_replies if option]
    if reply.body:
        return reply  # the bot's own words, nothing for a provider to write
    reply.request = build_request(context, knowledge.passages, notes=notes.strip())
    if settings.LLM_PROVIDER in TOOL_CALLING and settings.LLM_TOOLS and context.verified_player_id and not facts.to_ask:
        # The model may look things up itself; tools only ever see the verified player id.
        reply.request.functions = [spec.function_schema() for spec in catalogue.tools.values()]
        reply.facts, reply.verified_player_id = dict(facts.values), context.verified_player_id
    return reply


def _still_needed(reply: Reply, still: list[FactSpec], lang: str, human: dict | None) -> None:
    """The details the player has not given yet, asked for under the answer with their form."""
    reply.kind = "noted"
    reply.quick_replies = [human] if human else []
    reply.asked = [spec.name for spec in still]
    reply.form_fields = [fact_rules.form_field(spec, lang) for spec in still]


def _nothing_found(reply: Reply, lang: str, human: dict | None) -> None:
    """The help center has nothing for the question: a knowledge gap, and a person a tap away.

    An upset player (the reply has an apology before it) is not told "I'd rather not guess, try
    other words" after "let's sort it out right now": a person is what can answer it, and is
    offered plainly."""
    reply.kind, reply.knowledge_gap = "unknown", True
    reply.quick_replies = [human] if human else []
    if reply.prefix and human:
        reply.body = answers.a_person_for_what_is_not_found(lang)


def _soothing(question: str, mood: Mood, lang: str) -> str:
    """What an upset player hears first. One who says they asked support before ("I asked
    support 3 times about my missing sword") hears that, not "Sorry for the trouble, I
    understand", which reads as if the bot had not heard it."""
    if repeats_themselves(question):
        return answers.sorry_you_asked_again(lang)
    return answers.soothe(lang, strong=mood.strong)


def _not_helped(context: Context, facts: FactsResult, lang: str, human: dict | None) -> Reply:
    """ "still doesn't work" after an answer: its words would find another article ("work": the
    Monthly Card), and the same one again would not help either. The player hears what the bot
    needs to look further, the topic's details still missing, and is offered a person; said
    again after that, a person takes it."""
    if context.last_bot_meta.get("reply") == "not_helped":
        return Reply("handoff", body=answers.handover(lang, reason="dont_know"), escalate="dont_know")
    topic = get_catalogue().intents.get(context.topic)
    missing = [spec for spec in topic.facts if not given(facts.values, spec.name)] if topic else []
    missing = [spec for spec in missing if spec.name != fact_rules.PLAYER_ID or not context.verified_player_id]
    return Reply(
        "not_helped",
        body=answers.did_not_help(missing, lang, offer_human=human is not None),
        quick_replies=[human] if human else [],
        asked=[spec.name for spec in missing],
        form_fields=[fact_rules.form_field(spec, lang) for spec in missing],
    )


def _topic_options(intent: IntentResult, catalogue, lang: str) -> list[dict]:
    """Quick replies for four topics, the likely ones first."""
    likely = [catalogue.intents[n] for n in intent.likely if n in catalogue.intents and n != "human"]
    others = [spec for spec in catalogue.intents.values() if spec not in likely and spec.name != "human"]
    return [{"label": spec.label(lang), "intent": spec.name} for spec in (likely + others)[:4]]


# Words that name nothing to help with when the rest of a message is only its mood.
# A goodbye ("我要退游了，再见") asks for nothing either.
_NOTHING_TO_LOOK_UP = frozenset(
    tokenize("game games this you your guys all ever bye goodbye 游戏 你们 客服 什么 这 破 这破 没法玩 我要 再见 拜拜")
)


def only_venting(question: str, mood: Mood) -> bool:
    """The message says how the player feels and nothing else: no words but the mood's
    ("fuck", "垃圾") and the game or the team it is aimed at."""
    return mood.upset and _says_nothing_else(question, mood, _NOTHING_TO_LOOK_UP)


def _says_nothing_else(text: str, mood: Mood, besides: frozenset[str]) -> bool:
    """The text has no word but the mood's and those `besides`: nothing to look up."""
    return not set(tokenize(text)) - besides - set(tokenize(" ".join(mood.current.words)))


def _repeats_themselves(context: Context) -> bool:
    """The player says they asked before ("I asked 3 times already", "我都问了三遍了"), or sends
    the message before this one again."""
    if repeats_themselves(context.question):
        return True
    if context.last_bot.get("status") == Message.Status.FAILED:
        # "The answer was cut off… you can ask again": the player does as told, and the
        # answer they never got whole is no answer they are tired of.
        return False
    earlier = context.player_texts[-2:-1]
    return bool(earlier) and _as_said(earlier[0]) == _as_said(context.question) != ""


def _as_said(text: str) -> str:
    return " ".join(tokenize(text))


# What wraps "I asked before" when nothing else is said: "I've asked THREE TIMES already".
_REPEATING_WRAPPING = _NOTHING_TO_LOOK_UP | frozenset(
    tokenize("i i've already again still nothing now times asked 我 都 已经 了 还是 又")
)


def _only_says_so(question: str, mood: Mood) -> bool:
    """The message says the player repeats themselves and nothing to look up ("nothing. again.")."""
    found = repeats_themselves(question)
    rest = question.replace(found.group(0), " ") if found else question
    return _says_nothing_else(rest, mood, _REPEATING_WRAPPING)


def _same_article_again(context: Context, knowledge: Knowledge) -> bool:
    """This answer would quote the article the previous one quoted first."""
    before = context.last_bot_meta.get("sources") or []
    tool = knowledge.tool_result
    if not knowledge.passages or not before or (tool is not None and tool.error != "not_verified"):
        # A lookup again is news (an order that has arrived since); only the article is not.
        return False
    return before[0].get("source_id") == knowledge.passages[0].source_id


_THANKS = re.compile(
    r"(?:(?:ok(?:ay)?|great|cool|perfect|nice|got it|alright|好的?|嗯|明白了?|知道了|收到)[\s,，.。!！]*)?"
    r"(?:thanks?(?: a lot| so much)?|thank you(?: so much| very much)?|thx|ty|cheers|much appreciated"
    r"|谢谢(?:你|您|啦)?|多谢|感谢|谢了)[\s.。!！~～]*",
    re.IGNORECASE,
)


def _is_thanks(question: str) -> bool:
    """ "ok thanks", "好的谢谢": the player closes, and asks nothing."""
    return _THANKS.fullmatch(question.strip()) is not None


_ACK_WORD = (
    r"(?:lol|haha|ah|oh|ok(?:ay)?|k+|got it|alright|all right|i see|understood|cool|great|nice|sure|fine"
    r"|好的?|嗯+|哦+|噢+|明白了?|知道了|懂了|收到|行吧?|了解)"
)
# One or a few of them: "lol ok", "嗯嗯，知道了".
_ACKNOWLEDGEMENT = re.compile(rf"{_ACK_WORD}(?:[\s,，、]*{_ACK_WORD})*[\s.。!！~～]*", re.IGNORECASE)


# "ok whatever", "never mind", "算了", "算了吧，不用了": the player gives up on the answer. A lone
# "不用了" is not among them: after "anything else?" it is "no, thanks".
_GIVING_UP = re.compile(
    r"(?:(?:ok(?:ay)?|fine|oh well|meh|ugh|好吧|行吧|哎|唉)[\s,，.。…]*)?"
    r"(?:whatever|never\s?mind|nvm|forget\s+(?:about\s+)?it|doesn'?t\s+matter|don'?t\s+bother|i\s+give\s+up"
    r"|算了(?:吧|算了)?|随便(?:吧|了)?|无所谓了?|懒得(?:说|弄|管)了|放弃了?)"
    r"(?:[\s,，.。…]*(?:then|i guess|lol|算了|不用了|随便吧?))*[\s.。!！~～…]*",
    re.IGNORECASE,
)


def gives_up(question: str) -> bool:
    """ "ok whatever", "算了": the player gives up, and asks nothing."""
    return _GIVING_UP.fullmatch(question.strip()) is not None


def names_no_topic(question: str, mood: Mood) -> bool:
    """The message is about no topic, whatever the classifier reads in it: an outburst ("this
    game is garbage" reads as a bug report), "客服在吗" (a request for a person), "算了"."""
    return only_venting(question, mood) or asks_if_anyone_is_there(question) or gives_up(question)


def _is_acknowledgement(question: str) -> bool:
    """ "ok", "got it", "好的": the player read the answer, and asks nothing."""
    return _ACKNOWLEDGEMENT.fullmatch(question.strip()) is not None


def _still_awaited(context: Context, facts: FactsResult) -> list[FactSpec]:
    """The details the bot's previous answer asked for that the player has not given yet
    (none once the player wrote something else since that answer)."""
    catalogue = get_catalogue()
    asked = [catalogue.facts[name] for name in context.awaiting if name in catalogue.facts]
    return [spec for spec in asked if not given(facts.values, spec.name)]


def _details_given(context: Context, intent: IntentResult, facts: FactsResult) -> list[FactSpec]:
    """The topic's details, known now, when this message only gave some the bot asked for
    ("S2", "I'm on S2", "安卓，三服", "it's 55555555 on server S2 I think") and asks nothing; else [].

    The verified player id is no detail the player gave; an id they typed is. A submitted form
    gives nothing else: the player has just read the article it came under, and hears their
    details noted and the next step (signing in, what is still missing), not that article again."""
    if intent.source not in ("follow_up", "form") or intent.spec is None or not facts.new:
        return []
    if intent.source == "form":
        return _details_known(intent, facts)
    if words_besides_the_details(context.question, facts.new) > 3 or fact_rules.is_a_question(context.question):
        return []
    return _details_known(intent, facts)


def _details_known(intent: IntentResult, facts: FactsResult) -> list[FactSpec]:
    """The topic's details the player gave, and an id they typed (a topic may not ask for one,
    "my account got banned, my player id is 55555555"); never the verified player id."""
    catalogue = get_catalogue()
    wanted = list(intent.spec.facts) if intent.spec else []
    if CLAIMED_PLAYER_ID in facts.values and fact_rules.PLAYER_ID in catalogue.facts:
        wanted += [catalogue.facts[fact_rules.PLAYER_ID]]
    known = {spec.name: spec for spec in wanted if given(facts.values, spec.name)}
    return [spec for spec in known.values() if spec.name != fact_rules.PLAYER_ID or CLAIMED_PLAYER_ID in facts.values]


def _is_vague(question: str) -> bool:
    """Too little to go on: a greeting, "help", a lone word or emoji."""
    return len(tokenize(question)) < 3


def _mood_notes(lang: str) -> str:
    if lang == "zh-hans":
        return "玩家现在很不满或着急：先简短地表示理解并道歉，再给出明确、具体的下一步。"
    return "The player is upset: first acknowledge it briefly and apologise, then give one concrete next step."


def _repeat_notes(lang: str, button: str) -> str:
    """What the model is told of a player who asked before; `button` names the way to a person ("" for none)."""
    if lang == "zh-hans":
        person = (
            f"最后告诉玩家可以点下面的“{button}”，客服同事会接手查看具体情况，能看到之前的对话，不用再重复说明。"
            if button
            else "最后建议玩家转人工客服。"
        )
        return (
            "玩家说已经问过了，或者又发了一遍同样的问题：之前的回答没有解决问题。"
            "先简短地为让玩家反复询问道歉，不要重复之前的回答；资料里如果有之前没说过的办法，简短地说出来，"
            f"没有就坦白说明。{person}"
        )
    person = (
        f'Then tell them they can tap "{button}" below: a colleague will take over, look into their case and '
        "see this conversation, so they won't have to explain it again."
        if button
        else "Then offer a human agent."
    )
    return (
        "The player says they have asked before, or sent the same question again: the earlier answer did not "
        "solve it. Apologise briefly for making them ask again, and do not repeat the earlier answer. If the "
        "passages hold something it did not say, say that briefly; otherwise say so plainly. " + person
    )


def _ask_notes(lang: str, request: str) -> str:
    if lang == "zh-hans":
        return f"\n\n回答之后，请向玩家提出这个请求（可以换个说法）：{request}"
    return f"\n\nAfter answering, ask the player this (in your own words): {request}"


def _tool_notes(lang: str, tool: str, data: str) -> str:
    if lang == "zh-hans":
        return (
            f"\n\n你刚刚用内部系统工具 {tool} 查询到了玩家本人的记录（JSON）：\n{data}\n"
            "请据此用自然的中文告诉玩家结果和下一步。"
        )
    return (
        f"\n\nYou just looked up the player's own record with the internal tool {tool} (JSON):\n{data}\n"
        "Tell the player what it means and what to do next, in plain English."
    )
