"""A realistic support history for Starfall Legends, so the analytics pages have data.

Written with bulk_create in batches, then run through the same services as live
chats: stats_build for every conversation, the honest resolution, knowledge-gap
grouping and a full re-aggregation. Deterministic for a given seed.

What it looks like: evening peaks and busier weekends, the product's intents with their
own handoff and knowledge-gap rates, players who come back when the bot did not
really help, a two-hour LLM outage a few days ago (failures, slow first tokens,
escalations), agents with their own speed, CSAT that follows the outcome.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from analytics.models import ConversationStats, CsatRating
from analytics.services import aggregation, gaps, resolution
from analytics.services.stats import stats_build
from chat.handoff import Reason
from chat.models import Conversation, ConversationEvent, Message, Player

PREFIX = "gen-"
SERVERS = [f"s{n:02d}" for n in range(1, 13)]
AGENTS = [("Lin", "Yue", 1.0), ("Chen", "Hao", 0.7), ("Wang", "Fang", 1.3), ("Zhao", "Lei", 0.9),
          ("Sun", "Mei", 1.6), ("Zhou", "Jie", 0.8), ("Wu", "Ting", 1.1), ("Xu", "Ming", 2.0)]  # fmt: skip
# Share of chats per hour of the day: gamers write in the evening.
HOURLY = [2, 1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 6, 6, 5, 5, 6, 7, 8, 10, 12, 12, 9, 5]


@dataclass(frozen=True)
class Profile:
    """How the chats of one intent go in this history."""

    weight: float
    handoff: float  # chance a human is needed
    gap: float  # chance the knowledge base has nothing
    mood: float  # sentiment of the first message
    gap_questions: tuple[str, ...] = ()  # in either language: each is asked only in its own


# Keyed by the names of the product's intents (agents/demo_brain.py); an intent without a
# profile of its own gets QUIET. A name the brain does not have is an error (`product_intents`).
PROFILES = {
    "recharge_not_arrived": Profile(22, 0.35, 0.02, -0.45),
    "ban_appeal": Profile(10, 0.6, 0.05, -0.7),
    "lost_items": Profile(10, 0.3, 0.08, -0.35,
                          ("交易行买的东西没收到", "交易行的道具去哪了", "auction house item never arrived")),
    "bug_report": Profile(12, 0.25, 0.2, -0.3,
                          ("新版本安卓12闪退", "安卓12一进游戏就闪退", "crash on android 12 after update")),
    "gameplay": Profile(18, 0.08, 0.25, 0.1,
                        ("新版本的天赋怎么加点", "天赋加点推荐", "how to build talents in the new patch",
                         "宠物怎么进化", "宠物进化需要什么材料", "跨服战什么时候开", "跨服战几点开始")),
    "events": Profile(10, 0.05, 0.3, 0.2,
                      ("周年庆有什么活动", "周年庆活动内容", "anniversary event rewards",
                       "兑换码在哪里输入", "兑换码输入的地方在哪")),
    "refund": Profile(8, 0.5, 0.05, -0.4),
    "account_security": Profile(10, 0.3, 0.05, -0.3),
    "human": Profile(4, 1.0, 0.0, -0.2),
}  # fmt: skip
QUIET = Profile(3, 0.2, 0.1, 0.0)


@dataclass(frozen=True)
class Intent:
    name: str
    profile: Profile
    zh: tuple[str, ...]  # what players write: the brain's own examples, by language
    en: tuple[str, ...]
    asks_for_human: bool = False  # the brain hands these chats over (action "handoff")

    def phrases(self, language: str) -> tuple[str, ...]:
        return (self.zh or self.en) if language == "zh-hans" else (self.en or self.zh)

    def gap_questions(self, language: str) -> tuple[str, ...]:
        """The questions the knowledge base cannot answer, in the conversation's language."""
        chinese = language == "zh-hans"
        return tuple(q for q in self.profile.gap_questions if _is_chinese(q) == chinese)


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def product_intents() -> list[Intent]:
    """The demo brain's intents, so the history counts the intents the product classifies into."""
    from agents import demo_brain

    intents = []
    for name, _label_en, _label_zh, action, _tool, _facts, _description, examples in demo_brain.INTENTS:
        lines = [line.strip() for line in examples.strip().splitlines() if line.strip()]
        zh = tuple(line for line in lines if _is_chinese(line))
        en = tuple(line for line in lines if not _is_chinese(line))
        intents.append(Intent(name, PROFILES.get(name, QUIET), zh, en, asks_for_human=action == "handoff"))
    stray = set(PROFILES) - {i.name for i in intents}
    if stray:
        raise ValueError(f"history profiles for intents the demo brain does not have: {sorted(stray)}")
    return intents


# Why a human was needed, besides the failures and gaps the plan sees itself: only reasons the
# product gives (chat.handoff.Reason), so that every one has its label on the pages.
REASONS = [(Reason.PLAYER_REQUEST, 55), (Reason.DONT_KNOW, 20), (Reason.SENTIMENT, 20), (Reason.BOT_ERROR, 5)]
BOT_REPLIES = (
    "好的，我来帮您查一下。",
    "请提供一下您的订单号。",
    "已为您提交补单申请。",
    "Let me check that for you.",
)
# A bad patch on one server: its players are angrier.
GRUMPY_SERVER = "s07"
AGENT_REPLIES = (
    "您好，我是客服，我来处理。",
    "已经帮您核实了。",
    "问题已处理，请重新登录查看。",
    "Hi, I'm looking into it.",
)


@contextmanager
def _keep_timestamps() -> Iterator[None]:
    """Let bulk_create write the historical times we give instead of now().

    auto_now / auto_now_add overwrite created_at and updated_at on insert; this
    command backfills the past, so it switches them off for its own process only.
    """
    fields = [
        Conversation._meta.get_field("created_at"),
        Conversation._meta.get_field("updated_at"),
        Message._meta.get_field("created_at"),
        ConversationEvent._meta.get_field("created_at"),
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, now_add in saved:
            f.auto_now, f.auto_now_add = now, now_add


@dataclass
class Planned:
    """One conversation, built in memory before it is written."""

    conversation: Conversation
    messages: list[Message] = field(default_factory=list)
    events: list[ConversationEvent] = field(default_factory=list)
    csat: int | None = None
    gap_question: str = ""


class HistoryGenerator:
    def __init__(self, *, conversations: int, days: int, seed: int = 42, end: datetime | None = None) -> None:
        self.total = conversations
        self.days = days
        self.random = random.Random(seed)
        self.end = (end or timezone.now()).replace(microsecond=0)
        self.start = self.end - timedelta(days=days)
        # A two-hour LLM outage, a few days back when the range allows.
        outage_day = min(days - 1, 5) if days > 1 else 0
        self.outage = self.end - timedelta(days=outage_day, hours=3)
        self.intents = product_intents()
        self.weights = [i.profile.weight for i in self.intents]

    # --- Plan -------------------------------------------------------------------------

    def _start_time(self) -> datetime:
        r = self.random
        while True:
            day = r.randrange(self.days)
            hour = r.choices(range(24), weights=HOURLY)[0]
            moment = self.start + timedelta(days=day, hours=hour, seconds=r.randrange(3600))
            weekend = timezone.localtime(moment).weekday() >= 5
            if moment < self.end - timedelta(minutes=40) and (weekend or r.random() < 0.8):
                return moment

    def _in_outage(self, moment: datetime) -> bool:
        return self.outage <= moment < self.outage + timedelta(hours=2)

    def _ttft(self, moment: datetime) -> int:
        median = 2600 if self._in_outage(moment) else 850
        return max(120, int(self.random.lognormvariate(math.log(median), 0.45)))

    def plan(self, player: Player, agents: list[User], *, at: datetime, intent: Intent, language: str) -> Planned:
        r = self.random
        server = r.choice(SERVERS)
        conversation = Conversation(
            player=player,
            state=Conversation.State.CLOSED,
            language=language,
            intent=intent.name,
            facts={"server": server, "player_id": player.game_player_id},
            created_at=at,
        )
        planned = Planned(conversation)
        seq = 0

        def add(sender: str, moment: datetime, **fields) -> Message:
            nonlocal seq
            seq += 1
            message = Message(conversation=conversation, seq=seq, sender=sender, created_at=moment, **fields)
            planned.messages.append(message)
            return message

        def event(kind: str, moment: datetime, **fields) -> None:
            planned.events.append(ConversationEvent(conversation=conversation, kind=kind, created_at=moment, **fields))

        profile = intent.profile
        phrases = intent.phrases(language)
        mood = max(-1.0, min(1.0, r.gauss(profile.mood - (0.25 if server == GRUMPY_SERVER else 0), 0.25)))
        turns = min(8, 1 + int(r.expovariate(1 / 2.2)))
        needs_human = r.random() < profile.handoff * (1.6 if self._in_outage(at) else 1.0)
        questions = intent.gap_questions(language)
        gap = bool(questions) and r.random() < profile.gap
        if gap:
            planned.gap_question = r.choice(questions)
        escalate_after = r.randint(1, turns) if needs_human or gap and r.random() < 0.5 else None
        moment, failed = at, False
        for turn in range(1, turns + 1):
            text = planned.gap_question if gap and turn == 1 else r.choice(phrases)
            add(Message.Sender.PLAYER, moment, text=text, meta={"sentiment": round(mood, 2), "intent": intent.name})
            moment += timedelta(seconds=r.uniform(1, 3))
            outage = self._in_outage(moment)
            if r.random() < (0.35 if outage else 0.015):
                failed = True
                add(Message.Sender.BOT, moment, text="", status=Message.Status.FAILED, error="upstream timeout",
                    duration_ms=30000, finished_at=moment + timedelta(seconds=30))  # fmt: skip
            else:
                ttft = self._ttft(moment)
                duration = ttft + r.randint(800, 4000)
                add(Message.Sender.BOT, moment, text=r.choice(BOT_REPLIES), ttft_ms=ttft, duration_ms=duration,
                    prompt_tokens=r.randint(300, 1500), completion_tokens=r.randint(40, 260),
                    meta={"intent": intent.name, "sources": [] if gap else [{"n": 1, "source_id": "kb"}]},
                    finished_at=moment + timedelta(milliseconds=duration))  # fmt: skip
            moment += timedelta(seconds=r.uniform(15, 120))
            # Players calm down when helped and sour when stuck.
            mood += r.gauss(0.15 if not (failed or gap) else -0.15, 0.12)
            mood = max(-1.0, min(1.0, mood))
            if escalate_after == turn or (failed and r.random() < 0.5):
                break

        human = escalate_after is not None or failed
        agent = None
        if human:
            if failed:
                reason = Reason.UPSTREAM_ERROR
            elif gap:
                reason = Reason.DONT_KNOW
            else:
                reason = Reason.PLAYER_REQUEST if intent.asks_for_human else self._reason()
            event(ConversationEvent.Kind.ESCALATED, moment, reason=reason)
            conversation.handoff_reason = reason
            if r.random() < 0.05:  # the player gave up waiting
                moment += timedelta(minutes=r.uniform(3, 15))
            else:
                agent = r.choice(agents)
                speed = next(a[2] for a in AGENTS if a[0] == agent.first_name)
                night = timezone.localtime(moment).hour < 8
                wait = r.lognormvariate(math.log(75 * speed * (2.5 if night else 1)), 0.6)
                moment += timedelta(seconds=max(5.0, wait - 5))
                event(ConversationEvent.Kind.TAKEN_OVER, moment, actor=agent)
                moment += timedelta(seconds=5)
                if r.random() < 0.05:
                    other = r.choice([a for a in agents if a != agent])
                    event(ConversationEvent.Kind.TRANSFERRED, moment, actor=agent, reason=other.username)
                    agent = other
                for _ in range(r.randint(2, 6)):
                    add(Message.Sender.AGENT, moment, text=r.choice(AGENT_REPLIES), author=agent)
                    moment += timedelta(seconds=r.uniform(30, 150))
                    add(Message.Sender.PLAYER, moment, text=r.choice(phrases), meta={"sentiment": round(mood, 2)})
                    mood = max(-1.0, min(1.0, mood + r.gauss(0.2, 0.15)))
                    moment += timedelta(seconds=r.uniform(20, 90))
                conversation.assignee = agent
        moment += timedelta(minutes=r.uniform(1, 8))  # idle before the close
        event(ConversationEvent.Kind.CLOSED, moment, actor=agent)
        conversation.closed_at = conversation.updated_at = moment
        conversation.sentiment = round(mood, 2)
        conversation.last_seq = seq
        if r.random() < 0.35:
            planned.csat = self._csat(human=human, mood=mood, gap=gap)
        return planned

    def _reason(self) -> str:
        return self.random.choices([n for n, _ in REASONS], weights=[w for _, w in REASONS])[0]

    def _csat(self, *, human: bool, mood: float, gap: bool) -> int:
        mean = 4.3 if not human else 3.9
        mean += mood * 0.8 - (0.8 if gap else 0)
        return max(1, min(5, round(self.random.gauss(mean, 0.9))))

    # --- Write ------------------------------------------------------------------------

    def run(self, *, batch: int = 2000, log: Callable[[str], None] = print) -> dict[str, int]:
        result = self.write(batch=batch, log=log)
        log("settling resolution ...")
        settled = resolution.resolution_update(now=timezone.now())
        log(f"  {settled}")
        log("aggregating ...")
        return {**result, "aggregate_rows": aggregation.aggregate_rebuild()}

    def write(self, *, batch: int = 2000, log: Callable[[str], None] = print) -> dict[str, int]:
        """The players, their chats and what happened in them, without the analytics' figures:
        all that anomaly detection reads."""
        r = self.random
        agents = ensure_agents()
        player_count = max(1, self.total // 3)
        players = Player.objects.bulk_create(
            [
                Player(
                    # Random, not seeded: a second run adds players instead of colliding.
                    game_player_id=f"{PREFIX}{uuid.uuid4().hex[:12]}",
                    display_name=f"玩家{n}",
                    language="zh-hans" if r.random() < 0.75 else "en",
                )
                for n in range(player_count)
            ],
            batch_size=2000,
        )
        written = 0
        gaps_recorded = 0
        with _keep_timestamps():
            while written < self.total:
                size = min(batch, self.total - written)
                plans = self._plan_batch(players, agents, size)
                gaps_recorded += self._write(plans)
                written += len(plans)
                log(f"  {written}/{self.total} conversations")
        return {"conversations": written, "players": player_count, "gaps": gaps_recorded}

    def _plan_batch(self, players: list[Player], agents: list[User], size: int) -> list[Planned]:
        r = self.random
        plans: list[Planned] = []
        while len(plans) < size:
            player = r.choice(players)
            intent = r.choices(self.intents, weights=self.weights)[0]
            at = self._start_time()
            plan = self.plan(player, agents, at=at, intent=intent, language=player.language)
            plans.append(plan)
            # A bot chat that did not really help brings the player back with the same question.
            unhappy = plan.conversation.sentiment < -0.2
            if not plan.conversation.handoff_reason and r.random() < (0.35 if unhappy else 0.06) and len(plans) < size:
                back = plan.conversation.closed_at + timedelta(hours=r.uniform(0.5, 20))
                if back < self.end - timedelta(minutes=40):
                    plans.append(self.plan(player, agents, at=back, intent=intent, language=player.language))
        return plans

    @transaction.atomic
    def _write(self, plans: list[Planned]) -> int:
        Conversation.objects.bulk_create([p.conversation for p in plans], batch_size=1000)
        for p in plans:
            for m in p.messages:
                m.conversation_id = p.conversation.pk
            for e in p.events:
                e.conversation_id = p.conversation.pk
        Message.objects.bulk_create([m for p in plans for m in p.messages], batch_size=2000)
        ConversationEvent.objects.bulk_create([e for p in plans for e in p.events], batch_size=2000)
        CsatRating.objects.bulk_create(
            [
                CsatRating(conversation_id=p.conversation.pk, score=p.csat, created_at=p.conversation.closed_at,
                           updated_at=p.conversation.closed_at)
                for p in plans
                if p.csat
            ],
            batch_size=2000,
        )  # fmt: skip
        ConversationStats.objects.bulk_create(
            [
                stats_build(conversation=p.conversation, messages=p.messages, events=p.events, csat_score=p.csat)
                for p in plans
            ],
            batch_size=1000,
        )
        asked = [p for p in plans if p.gap_question]
        if not asked:
            return 0
        # Read once for the whole import, not once per gap (gaps.GapGroups).
        groups = gaps.GapGroups(min(p.messages[0].created_at for p in asked) - gaps.ACTIVE_FOR)
        gaps.knowledge_gaps_record(
            [
                gaps.AskedGap(p.gap_question, p.conversation.pk, p.conversation.language, p.messages[0].created_at)
                for p in asked
            ],
            groups=groups,
        )
        return len(asked)


def ensure_agents() -> list[User]:
    group, _ = Group.objects.get_or_create(name="agent")
    agents = []
    for first, last, _speed in AGENTS:
        user, created = User.objects.get_or_create(
            username=f"{PREFIX}{first.lower()}", defaults={"first_name": first, "last_name": last}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(group)
        agents.append(user)
    return agents


def clear_generated() -> int:
    """Delete what an earlier run generated (its players, and with them their chats)."""
    deleted, _ = Player.objects.filter(game_player_id__startswith=PREFIX).delete()
    return deleted
