"""The offline provider: answers from the retrieved passages, with no model at all.

It is the embedded default, so that csbot runs, demos and is tested end to end
without network access or API keys. It never retrieves by itself: it answers from
`request.passages`, which the pipeline fills. With no passages it says plainly
that it does not know and offers a human agent, rather than guess.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from django.conf import settings

from agents.knowledge.language import CHINESE, ENGLISH, detect_language

from .base import ChatRequest, Delta, Finish, Passage, Provider, StreamItem

# How much of the best passage goes into the answer, in characters.
# The demo help center's articles run 2.6 times as many characters in English as in Chinese:
# at 700 an English answer said about what 270 Chinese characters say, the introduction
# without the checklist the Chinese answer quotes.
MAIN_BUDGET = {CHINESE: 420, ENGLISH: 1100}
RELATED_BUDGET = {CHINESE: 80, ENGLISH: 160}
# A list the main budget runs out in is quoted whole while the excerpt stays within this
# many budgets: a checklist cut short reads as complete. The demo help center's longest
# list is about 650 characters in English, 280 in Chinese.
LIST_OVERRUN = 2

_TEXT = {
    CHINESE: {
        "lead": "关于“{title}”，帮助中心是这样说的：",
        "related": "可能也对你有帮助：",
        "close": "如果这些没有解决你的问题，告诉我一声，我可以帮你转接人工客服。",
        "unknown": (
            "抱歉，我在帮助中心里没有找到和这个问题相关的资料，不想随便猜一个答案给你。"
            "你可以换个说法再问一次，或者我帮你转接人工客服来处理。"
        ),
    },
    ENGLISH: {
        "lead": "Here's what our help center says about **{title}**:",
        "related": "You may also find these useful:",
        "close": "If this doesn't solve it, let me know and I can connect you with a human agent.",
        "unknown": (
            "Sorry, I couldn't find anything about this in our help center, and I'd rather not guess. "
            "You can try asking in other words, or I can connect you with a human agent."
        ),
    },
}

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_QUESTION_PREFIX = re.compile(r"^\s*(?:Q[:：]|问[:：]|问题[:：])\s*", re.IGNORECASE)
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# A list item cut before its text: "5." reads as a sentence of its own.
_BARE_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s*$")
_SENTENCE = re.compile(r".+?(?:[。！？]|[.!?](?=\s)|$)", re.DOTALL)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Where a text too long for its budget is best cut, short of a sentence's end.
_COMMA = re.compile(r"[，、；：,;:]")


class LocalProvider(Provider):
    name = "local"

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        text = compose_answer(request.passages, answer_language(request))
        size = max(1, settings.LOCAL_PROVIDER_CHUNK_CHARS)
        delay = settings.LOCAL_PROVIDER_CHUNK_DELAY
        for start in range(0, len(text), size):
            if start:
                await asyncio.sleep(delay)
            yield Delta(text[start : start + size])
        prompt = [request.system, *(m.content for m in request.messages), *(p.text for p in request.passages)]
        yield Finish(prompt_tokens=estimate_tokens("\n".join(prompt)), completion_tokens=estimate_tokens(text))


def answer_language(request: ChatRequest) -> str:
    """request.language when it is Chinese or English, else the last user message's."""
    language = (request.language or "").lower()
    if language.startswith("zh"):
        return CHINESE
    if language.startswith("en"):
        return ENGLISH
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return detect_language(last) or CHINESE


def compose_answer(passages: list[Passage], language: str) -> str:
    """A short Markdown answer citing passages as [1], [2]… in the order given."""
    text = _TEXT[language]
    if not passages:
        return text["unknown"]
    best = passages[0]
    parts = [
        text["lead"].format(title=best.title),
        f"{_excerpt(best, MAIN_BUDGET[language])} [1]",
    ]
    colon = "：" if language == CHINESE else ": "
    related = [
        f"- **{p.title}**{colon}{_summary(p, RELATED_BUDGET[language])} [{n}]"
        for n, p in enumerate(passages[1:], start=2)
    ]
    if related:
        parts.append(text["related"] + "\n" + "\n".join(related))
    parts.append(text["close"])
    return "\n\n".join(parts)


def estimate_tokens(text: str) -> int:
    """Roughly: one token per Chinese character, one per four other characters."""
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def _excerpt(passage: Passage, budget: int) -> str:
    """The passage without its title echo, cut at a line or sentence end within budget.

    Never inside a list: a checklist the budget runs out in is quoted to its last step
    ("My top-up did not arrive": its fifth check was cut in English, whose articles run 2.6
    times as long), up to twice the budget; the player reads steps 1 to 4 as all there is.
    """
    body = _strip_title_echo(passage.text, passage.title)
    body_lines = body.split("\n")
    lines: list[str] = []
    used = 0
    for position, line in enumerate(body_lines):
        if used + len(line) <= budget:
            lines.append(line)
            used += len(line) + 1
            continue
        if _LIST_MARK.match(line):
            rest = _list_rest(body_lines, position)
            if used + sum(len(item) + 1 for item in rest) <= budget * LIST_OVERRUN:
                lines.extend(rest)
                break
        partial = "".join(_sentences_within(line, budget - used))
        if partial:
            lines.append(partial)
        break
    while lines and (
        not lines[-1].strip() or _HEADING.match(lines[-1]) or _is_lead_in(lines[-1]) or _BARE_MARK.match(lines[-1])
    ):
        lines.pop()  # a heading, a "Please include:" or a "5.", whose text did not fit
    if not lines:  # a first sentence longer than the budget: cut it, visibly
        return _shortened(body, budget)
    return _HEADING.sub(lambda m: f"**{m.group(1)}**", "\n".join(lines).strip())


def _list_rest(lines: list[str], start: int) -> list[str]:
    """The list item at start and the items (and their indented lines) after it."""
    rest: list[str] = []
    for line in lines[start:]:
        if not (_LIST_MARK.match(line) or (rest and line.startswith((" ", "\t")) and line.strip())):
            break
        rest.append(line)
    return rest


def _summary(passage: Passage, budget: int) -> str:
    """The first sentence or two of the passage's prose, within budget.

    Not a list item, nor a lead-in's "Please include:": out of their list they read as
    fragments ("UID, server and character name;"). A passage that is all list, or opens
    its section with the list, is summed up by its heading ("What we cannot restore",
    "申诉结果"): a line after such a list is an aside ("用小号绕过封禁会加重处罚"), not what
    the section is about. Else its first item.
    """
    body = _strip_title_echo(passage.text, passage.title)
    lines = [line.replace("**", "").strip() for line in body.split("\n")]
    headings = [_HEADING.sub(r"\1", line) for line in lines if _HEADING.match(line)]
    lines = [line for line in lines if line and not line.startswith("#")]
    prose = [_without_lead_in(line) for line in lines if not _LIST_MARK.match(line)]
    prose = [line for line in prose if line]
    if headings and lines and _LIST_MARK.match(lines[0]):
        return _shortened(headings[0], budget)
    if prose:
        first = prose[0]
    elif headings:
        return _shortened(headings[0], budget)
    else:
        first = _LIST_MARK.sub("", lines[0]) if lines else ""
    summary = "".join(_sentences_within(first, budget)).strip()
    return summary or (_shortened(first, budget) if first else passage.title)


def _is_lead_in(line: str) -> bool:
    return line.rstrip().endswith((":", "："))


def _without_lead_in(line: str) -> str:
    """The line without a closing "Please include:", whose list is not quoted with it."""
    sentences = _SENTENCE.findall(line)
    if sentences and _is_lead_in(sentences[-1]):
        sentences.pop()
    return "".join(sentences).strip()


def _shortened(text: str, budget: int) -> str:
    """The text cut to the budget, visibly ("…"), at a comma or between words: never inside a word."""
    text = text.strip()
    if len(text) <= budget:
        return text
    window = text[: budget - 1]
    commas = [match.start() for match in _COMMA.finditer(window, budget // 2)]
    spaces = [match.start() for match in re.finditer(r"\s", window)]
    if commas:
        cut = commas[-1]
    elif _CJK.match(text[budget - 1]):
        cut = len(window)  # Chinese with no comma in sight: between two characters
    else:
        cut = spaces[-1] if spaces else len(window)
    # Not on a dangling arrow or dash: "点击 客服中心 →…".
    return window[:cut].rstrip(" ，、；：,;:→-–—") + "…"


def _sentences_within(line: str, room: int) -> list[str]:
    taken: list[str] = []
    used = 0
    for sentence in _SENTENCE.findall(line):
        if used + len(sentence) > room:
            break
        taken.append(sentence)
        used += len(sentence)
    return taken


def _strip_title_echo(text: str, title: str) -> str:
    """Drop a first line (or sentence) that only repeats the passage's title or question."""
    text = text.strip()
    first, _, rest = text.partition("\n")
    bare = _QUESTION_PREFIX.sub("", first.lstrip("# ")).strip()
    if title and (bare == title.strip() or bare.rstrip("?？") == title.strip().rstrip("?？")):
        return rest.strip() or text
    if title and text.startswith(title) and not text[len(title) : len(title) + 1].isalnum():
        # "Refund policy: …" loses its echo; "Refunds take…" under "Refund" keeps its first word.
        return text[len(title) :].lstrip(" \n:：") or text
    return text
