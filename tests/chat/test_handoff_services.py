"""The handoff services (chat/handoff.py): who gets the chat, what is recorded, what the player is told."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections
from django.utils import timezone

from agents.pipeline.context import context_for_conversation
from chat import handoff, presence
from chat.handoff import AlreadyTaken, AtCapacity, NotAvailable, NotHolder, Reason
from chat.models import AgentProfile, Conversation, ConversationEvent, Message
from chat.services import message_append

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(lin) -> Conversation:
    conversation = Conversation.objects.create(player=lin, language="en")
    message_append(conversation_id=conversation.pk, sender="player", text="my top-up is missing", client_id="c1")
    return conversation


def online(user, max_chats: int = 5) -> None:
    presence.presence_connect(user=user)
    AgentProfile.objects.filter(user=user).update(max_chats=max_chats)


def system_lines(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(sender="system").order_by("seq").values_list("text", flat=True))


def test_a_takeover_gives_the_chat_to_the_agent_and_tells_the_player(chat, alice):
    change = handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)

    chat.refresh_from_db()
    assert (chat.state, chat.assignee) == ("human", alice)
    assert change.cancel is True and change.agent_name == "Alice"
    assert system_lines(chat) == ["Alice has joined the chat."]
    event = ConversationEvent.objects.get(conversation=chat)
    assert (event.kind, event.actor) == ("taken_over", alice)
    # What the dashboards are told, read once the bot's answer has been told to stop (announce).
    assert not change.described
    handoff.describe(change)
    assert change.row["conversation"]["assignee"] == {"id": alice.pk, "name": "Alice"}
    assert [e["kind"] for e in change.case["events"]] == ["taken_over"]


def test_a_player_who_writes_chinese_is_told_in_chinese_whatever_the_page(chat, alice):
    # The page is English (the chat's language), but the bot answers the question in Chinese.
    message_append(conversation_id=chat.pk, sender="player", text="充值还是没到账", client_id="c2")
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    assert system_lines(chat) == ["Alice 已加入对话。"]


def test_a_player_who_has_written_nothing_is_told_in_the_pages_language(lin, alice):
    chat = Conversation.objects.create(player=lin, language="zh-hans")
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    assert system_lines(chat) == ["Alice 已加入对话。"]


def test_the_second_agent_is_told_who_has_the_chat(chat, alice, bob):
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    with pytest.raises(AlreadyTaken) as refused:
        handoff.conversation_take_over(conversation_id=chat.pk, agent=bob)
    assert refused.value.holder == alice
    assert ConversationEvent.objects.filter(kind="taken_over").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_over_at_once_in_threads_exactly_one_wins(chat, alice, bob):
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def take(agent) -> None:
        barrier.wait()
        try:
            handoff.conversation_take_over(conversation_id=chat.pk, agent=agent)
            outcome[agent.username] = "won"
        except AlreadyTaken as exc:
            outcome[agent.username] = exc.holder.username
        finally:
            close_old_connections()

    threads = [threading.Thread(target=take, args=(agent,)) for agent in (alice, bob)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    winner = next(name for name, result in outcome.items() if result == "won")
    loser = next(name for name in outcome if name != winner)
    assert outcome[loser] == winner
    chat.refresh_from_db()
    assert chat.assignee.username == winner
    assert ConversationEvent.objects.filter(kind="taken_over").count() == 1
    assert len(system_lines(chat)) == 1


def test_hand_back_transfer_and_close_are_audited_and_shown_to_the_player(chat, alice, bob, mia):
    online(bob)
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    handoff.conversation_transfer(conversation_id=chat.pk, agent=alice, to_user_id=bob.pk)
    handoff.conversation_hand_back(conversation_id=chat.pk, agent=bob)
    handoff.conversation_take_over(conversation_id=chat.pk, agent=bob)
    change = handoff.conversation_close(conversation_id=chat.pk, actor=bob)

    events = list(ConversationEvent.objects.filter(conversation=chat).values_list("kind", "actor__username"))
    assert events == [
        ("taken_over", "alice"),
        ("transferred", "alice"),
        ("handed_back", "bob"),
        ("taken_over", "bob"),
        ("closed", "bob"),
    ]
    assert system_lines(chat) == [
        "Alice has joined the chat.",
        "Bob has joined the chat.",
        "You are chatting with our assistant again.",
        "Bob has joined the chat.",
        "This chat has been closed. Write again any time to start a new one.",
    ]
    chat.refresh_from_db()
    assert chat.state == "closed" and chat.closed_at is not None
    assert change.cancel is True
    assert [e["actor"] for e in handoff.describe(change).case["events"]] == ["Alice", "Alice", "Bob", "Bob", "Bob"]


def test_only_the_holder_or_a_manager_can_hand_back_transfer_or_close(chat, alice, bob, mia):
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    for action in (
        lambda: handoff.conversation_hand_back(conversation_id=chat.pk, agent=bob),
        lambda: handoff.conversation_close(conversation_id=chat.pk, actor=bob),
        lambda: handoff.conversation_transfer(conversation_id=chat.pk, agent=bob, to_user_id=bob.pk),
    ):
        with pytest.raises(NotHolder):
            action()
    handoff.conversation_hand_back(conversation_id=chat.pk, agent=mia)
    chat.refresh_from_db()
    assert chat.state == "bot" and chat.assignee is None


def test_a_chat_is_transferred_only_to_an_agent_who_is_there(chat, alice, bob):
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)

    # Bob chose "away": the chat would sit with him unanswered.
    online(bob)
    presence.presence_set_status(user=bob, status="away")
    with pytest.raises(NotAvailable) as away:
        handoff.conversation_transfer(conversation_id=chat.pk, agent=alice, to_user_id=bob.pk)
    assert (away.value.user, away.value.status) == (bob, "away")

    # Back online, but his dashboard closed, or went silent past AGENT_PRESENCE_SECONDS.
    presence.presence_set_status(user=bob, status="online")
    presence.presence_disconnect(user=bob)
    with pytest.raises(NotAvailable) as closed:
        handoff.conversation_transfer(conversation_id=chat.pk, agent=alice, to_user_id=bob.pk)
    assert closed.value.status == "offline"
    presence.presence_connect(user=bob)
    AgentProfile.objects.filter(user=bob).update(last_seen=timezone.now() - timezone.timedelta(minutes=5))
    with pytest.raises(NotAvailable):
        handoff.conversation_transfer(conversation_id=chat.pk, agent=alice, to_user_id=bob.pk)

    chat.refresh_from_db()
    assert (chat.state, chat.assignee) == ("human", alice)
    assert system_lines(chat) == ["Alice has joined the chat."]
    assert not ConversationEvent.objects.filter(kind="transferred").exists()

    presence.presence_seen(user=bob)
    handoff.conversation_transfer(conversation_id=chat.pk, agent=alice, to_user_id=bob.pk)
    assert Conversation.objects.get(pk=chat.pk).assignee == bob


def test_only_the_holder_writes_to_the_player(chat, alice, bob):
    with pytest.raises(NotHolder):
        handoff.agent_message_send(conversation_id=chat.pk, agent=alice, client_id="a1", text="hi")
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    message, created = handoff.agent_message_send(conversation_id=chat.pk, agent=alice, client_id="a1", text="hi")
    again, created_again = handoff.agent_message_send(conversation_id=chat.pk, agent=alice, client_id="a1", text="hi")
    assert created and not created_again and again.pk == message.pk
    assert (message.sender, message.author, message.meta["name"]) == ("agent", alice, "Alice")
    with pytest.raises(NotHolder):
        handoff.agent_message_send(conversation_id=chat.pk, agent=bob, client_id="b1", text="me too")


def test_an_agent_at_capacity_cannot_take_another_chat(lin, alice):
    online(alice, max_chats=1)
    first, second = (Conversation.objects.create(player=lin) for _ in range(2))
    handoff.conversation_take_over(conversation_id=first.pk, agent=alice)
    with pytest.raises(AtCapacity):
        handoff.conversation_take_over(conversation_id=second.pk, agent=alice)
    assert Conversation.objects.get(pk=second.pk).state == "bot"


def test_with_no_agent_online_the_player_is_told_to_leave_a_message(chat):
    change = handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST)

    chat.refresh_from_db()
    assert (chat.state, chat.handoff_reason) == ("waiting", "player_request")
    assert chat.waiting_since is not None
    assert change.messages[0].meta["event"] == "no_agent"
    assert "No support agent is online" in change.messages[0].text
    event = ConversationEvent.objects.get(conversation=chat)
    assert (event.kind, event.reason) == ("escalated", "player_request")
    assert not change.described  # read by announce(), once the bot's answer is told to stop
    assert handoff.describe(change).row["queue"] == {"waiting": 1}
    # Asking again changes nothing.
    assert handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST) is None


def test_with_an_agent_online_the_player_waits_in_the_queue(chat, alice):
    online(alice)
    change = handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.DONT_KNOW)
    assert change.messages[0].meta["event"] == "waiting"
    assert change.then is None


def test_an_away_or_silent_agent_is_not_online(alice, bob):
    online(alice)
    online(bob)
    presence.presence_set_status(user=alice, status="away")
    AgentProfile.objects.filter(user=bob).update(last_seen=timezone.now() - timezone.timedelta(minutes=5))
    assert not presence.any_agent_online()
    roster = {a["name"]: a for a in presence.roster()}
    assert roster["Alice"]["status"] == "away" and not roster["Alice"]["online"]
    assert not roster["Bob"]["online"]


def test_auto_assignment_gives_the_chat_to_the_least_busy_online_agent(settings, lin, alice, bob):
    settings.AUTO_ASSIGN = True
    online(alice)
    online(bob)
    busy = Conversation.objects.create(player=lin)
    handoff.conversation_take_over(conversation_id=busy.pk, agent=alice)
    fresh = Conversation.objects.create(player=lin)

    change = handoff.conversation_escalate(conversation_id=fresh.pk, reason=Reason.PLAYER_REQUEST)

    fresh.refresh_from_db()
    assert (fresh.state, fresh.assignee) == ("human", bob)
    assert change.then is not None and change.then.agent_name == "Bob"
    assert system_lines(fresh) == ["Bob has joined the chat."]


def test_auto_assignment_gives_nothing_to_an_agent_who_went_away_after_she_was_picked(
    settings, monkeypatch, chat, alice, bob
):
    """Alice chose Away in the moment AUTO_ASSIGN picked her (least_busy_agent reads no lock):
    the chat was hers, with its player waiting on someone who had stepped away, and the
    player read no line at all."""
    settings.AUTO_ASSIGN = True
    online(alice)
    online(bob)  # still there: the player is queued for him
    monkeypatch.setattr(presence, "least_busy_agent", lambda: alice)  # picked before...
    presence.presence_set_status(user=alice, status="away")  # ...she went away

    change = handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST)

    chat.refresh_from_db()
    assert (chat.state, chat.assignee) == ("waiting", None)
    assert change.then is None
    assert system_lines(chat) == ["You are in the queue for a support agent. We'll be with you soon."]
    assert change.row["conversation"]["state"] == "waiting"  # the dashboards get the queued row


def test_auto_assignment_skips_an_away_agent(settings, chat, alice, bob):
    settings.AUTO_ASSIGN = True
    online(alice)
    online(bob)
    presence.presence_set_status(user=alice, status="away")
    handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST)
    chat.refresh_from_db()
    assert (chat.state, chat.assignee) == ("human", bob)


def test_auto_assignment_is_off_by_default(lin, alice):
    online(alice)
    chat = Conversation.objects.create(player=lin)
    handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST)
    assert Conversation.objects.get(pk=chat.pk).state == "waiting"
    assert handoff.assign_waiting() == []


def test_a_waiting_chat_goes_to_the_next_agent_who_comes_online(settings, chat, alice):
    settings.AUTO_ASSIGN = True
    handoff.conversation_escalate(conversation_id=chat.pk, reason=Reason.PLAYER_REQUEST)
    online(alice)
    [change] = handoff.assign_waiting()
    assert change.conversation_id == chat.pk and change.agent_name == "Alice"


@pytest.mark.parametrize(
    "text, wanted",
    [
        # Asking for a person.
        ("转人工", True),
        ("我要找人工客服！", True),
        ("能帮我找客服吗", True),
        ("人工服务", True),
        ("我要真人客服", True),
        ("帮我找人工", True),
        ("不要机器人我要人工", True),
        ("人工", True),
        ("人工！", True),
        ("I want to talk to a human", True),
        ("can I speak with an agent?", True),
        ("let me chat to a real human", True),
        ("Connect me to an agent", True),
        ("please transfer me to a human, this is useless", True),
        ("I want a real person", True),
        ("I need a human to look at my refund", True),
        ("agent please", True),
        ("human please", True),
        ("Human", True),
        ("agent!", True),
        ("representative", True),
        ("live agent", True),
        ("Can I speak to a real person?", True),
        ("is there a human I can talk to?", True),
        # Game talk that mentions humans and agents.
        ("how do I recharge", False),
        ("humane treatment of pets in game", False),
        ("我的充值没到账", False),
        ("My character is a human warrior and I can't equip the new sword", False),
        ("Is there a human in the loop? My human paladin can't learn the new skill", False),
        ("I want to play as a human", False),
        ("I want a human warrior build", False),
        ("how do I get an agent skin", False),
        ("my human paladin lost his mount", False),
        ("the secret agent quest won't finish", False),
        ("which race is better, human or elf?", False),
        ("人工智能队友太笨了", False),
        # Asking what answers is a question, not a request (the bot says how to ask).
        ("are you a real person?", False),
        ("am I talking to a real person?", False),
        ("你是真人吗", False),
        ("who am I talking to?", False),
        ("你们客服是机器人吗", False),
        ("客服是真人吗？", False),
        ("is your support a bot?", False),
        ("are your agents bots?", False),
        ("are you a real person? I want to talk to one", True),
        # Asking for whoever handles the case, named by their job or only as "them".
        ("who's in charge of bans? I want to talk to them", True),
        ("who handles refunds? can I speak to them", True),
        ("Who is responsible for bans, let me talk to him", True),
        ("can I talk to whoever handles refunds?", True),
        ("I'd like to talk to someone who handles bans", True),
        ("I need the person in charge of appeals", True),
        ("I want to speak to your manager", True),
        ("put me through to the refund team", True),
        ("can someone from the ban team look at my account?", True),
        ("could somebody from your billing department check my order", True),
        ("I need someone from the refund team to call me", True),
        ("is anyone from the support team here?", True),
        ("能让封号组的人看看我的账号吗", True),
        ("帮我找退款部门的同事", True),
        ("叫客服组的人来处理一下", True),
        ("找负责封号的人", True),
        ("能不能让管退款的同事来", True),
        ("我要找你们负责人", True),
        ("叫你们经理来", True),
        ("谁负责封号？我要找他", True),
        # ... and questions that only mention "them", a team or a person in charge.
        ("my friends left the game, how do I add them back?", False),
        ("how do I talk to them in game?", False),
        ("who's in charge of the guild? I want to talk to them", False),
        ("who manages the daily reset? I keep missing them", False),
        ("the ban team said my appeal was rejected, what now?", False),
        ("someone from the ban team said my appeal was rejected", False),
        ("the event rewards are ridiculous lol", False),
        ("can someone from my guild join my team?", False),
        ("how do I find someone from the raid team to play with", False),
        ("找固定团队的人一起打副本", False),
        ("我的号被封号组的人封了吗", False),
        ("I want the manager skin", False),
        ("my boss in the raid is bugged", False),
        ("公会负责人怎么转让", False),
        ("谁负责公会？", False),
        ("找不到负责任务的NPC", False),
        ("我要处理掉的人物装备怎么卖", False),
    ],
)
def test_the_player_can_ask_for_a_human_in_words(text, wanted):
    assert handoff.wants_human(text) is wanted


@pytest.mark.parametrize(
    "text",
    [
        # The game's own managers, bosses and people: a quest, a dungeon, company to play with.
        "I want the manager of the shop npc quest",
        "can I get the manager of the tavern to give me the quest?",
        "how do I speak to the manager npc",
        "the quest says talk to the manager",
        "I need the boss of the fire dungeon",
        "I need a manager for my guild",
        "I want the person in charge of the guild",
        "I need someone to carry me through the raid",
        "I want a person to duo with",
        "need somebody for my party",
        "how do I talk to a person in game?",
        "the quest says talk to someone in town",
        "我要找经理npc的任务",
        "找老板NPC交任务",
    ],
)
def test_a_person_of_the_game_is_no_request_for_staff(text):
    assert handoff.wants_human(text) is False


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a manager",
        "I want the manager",
        "I need your manager",
        "I want to talk to your manager about my quest reward",
        "I want to talk to a human about my quest",
        "I need someone to help me, my top-up is missing",
        "put me through to someone in the refund team",
        "找你们经理",
        "找经理",
        "叫你们经理来处理任务奖励的问题",
    ],
)
def test_a_request_for_a_manager_or_a_person_still_reaches_staff(text):
    assert handoff.wants_human(text) is True


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("客服电话是多少", True),
        ("有没有客服热线", True),
        ("can I call you?", True),
        ("你们客服邮箱是什么？", True),
        ("what's your support phone number?", True),
        ("is there a hotline", True),
        ("how can I contact you", True),
        ("support email?", True),
        # Not a phone bought in the game, nor a request for a person.
        ("my phone crashes when I open the map", False),
        ("手机玩一直闪退", False),
        ("how do I reach level 50", False),
        ("转人工", False),
        # The person named is whose phone or e-mail the player asks for.
        ("有没有人工客服的电话", True),
        ("人工客服的邮箱是什么", True),
        ("真人客服的联系方式", True),
        ("is there a phone number for human support?", True),
        ("what's the phone number to reach a real person", True),
        ("is there a number I can call to talk to a human?", True),
    ],
)
def test_asking_how_to_reach_support_is_a_question_not_a_request_for_a_person(text, asks):
    assert handoff.asks_how_to_reach_support(text) is asks
    assert handoff.wants_human(text) is (text == "转人工")


@pytest.mark.parametrize(
    "text", ["转人工，客服电话是多少", "我要人工客服", "I want a real person, what's your phone number?"]
)
def test_a_request_for_a_person_beside_a_question_about_the_phone_is_still_a_request(text):
    assert handoff.wants_human(text)


def _answer(conversation, sources, **meta):
    return message_append(conversation_id=conversation.pk, sender="bot", text="…", meta={"sources": sources, **meta})


def test_the_bot_escalates_after_repeated_dont_know(chat, settings):
    settings.ESCALATE_AFTER_DONT_KNOW = 2
    _answer(chat, [])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) is None
    _answer(chat, [{"n": 1, "title": "Refunds", "source_id": "x"}])
    _answer(chat, [])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) is None
    _answer(chat, [])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) == "dont_know"


def test_dont_know_answers_before_a_hand_back_do_not_count(chat, alice, settings):
    settings.ESCALATE_AFTER_DONT_KNOW = 2
    _answer(chat, [])
    handoff.conversation_take_over(conversation_id=chat.pk, agent=alice)
    handoff.conversation_hand_back(conversation_id=chat.pk, agent=alice)
    _answer(chat, [])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) is None
    _answer(chat, [])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) == "dont_know"


@pytest.mark.parametrize(
    "sentiment", [-0.9, {"score": -0.85, "level": "extreme"}, {"score": -0.2, "level": "upset", "escalate": True}]
)
def test_the_bot_escalates_on_strong_negative_sentiment(chat, sentiment):
    message_append(conversation_id=chat.pk, sender="player", text="!!!", meta={"sentiment": sentiment})
    _answer(chat, [{"n": 1, "title": "Refunds", "source_id": "x"}])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) == "sentiment"


def test_a_mildly_unhappy_player_stays_with_the_bot(chat):
    message_append(conversation_id=chat.pk, sender="player", text="hmm", meta={"sentiment": {"score": -0.3}})
    _answer(chat, [{"n": 1, "title": "Refunds", "source_id": "x"}])
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) is None


def test_a_frustrated_player_the_bot_chose_to_help_is_not_handed_over_for_their_score(chat):
    # "the game crashes every time I open the shop, this is ridiculous": a low score, and
    # agents/ answered with help, not a human (agents/sentiment.py).
    frustrated = {"score": -0.75, "level": "upset", "words": ["ridiculous"], "escalate": False}
    message_append(conversation_id=chat.pk, sender="player", text="this is ridiculous", meta={"sentiment": frustrated})
    answer = _answer(chat, [{"n": 1, "title": "Reporting a bug", "source_id": "x"}], sentiment=frustrated)
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) is None
    assert handoff.escalation_possible(answer.status, answer.error, answer.meta) is False


def test_the_bot_escalates_when_the_upstream_fails_or_agents_asks(chat):
    assert handoff.auto_escalation_reason(conversation_id=chat.pk, status="failed", error="qps limit") == (
        "upstream_error"
    )
    _answer(chat, [{"n": 1, "title": "x", "source_id": "x"}], escalate="player_request")
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) == "player_request"


CALM = {"score": 0.2, "level": "calm", "words": ["thanks"], "escalate": False}
ANSWERED = {"sources": [{"n": 1, "title": "Refunds", "source_id": "x"}]}


@pytest.mark.parametrize(
    "meta",
    [
        {**ANSWERED, "sentiment": CALM},
        {**ANSWERED, "sentiment": {"score": -0.3, "level": "upset", "escalate": False}},  # mildly unhappy
        {"reply": "greeting", "sentiment": CALM},  # no knowledge asked for: no sources key at all
    ],
)
def test_an_ordinary_answer_needs_no_escalation_checks(meta):
    assert handoff.escalation_possible("done", "", meta) is False


@pytest.mark.parametrize(
    ("status", "error", "meta"),
    [
        ("done", "", None),  # the caller did not say: check as before
        ("failed", "qps limit", {**ANSWERED, "sentiment": CALM}),
        ("done", "need_clear_history", {**ANSWERED, "sentiment": CALM}),
        ("done", "", {**ANSWERED, "sentiment": CALM, "escalate": "bot_request"}),
        ("done", "", {**ANSWERED, "sentiment": {**CALM, "escalate": True}}),  # an upset streak (agents/)
        ("done", "", {**ANSWERED, "sentiment": {"score": -0.85, "level": "angry"}}),
        ("done", "", {**ANSWERED, "sentiment": -0.9}),
        ("done", "", dict(ANSWERED)),  # no score: the conversation's sentiment decides
        ("done", "", {"sources": [], "sentiment": CALM}),  # found nothing to say
        ("done", "", {**ANSWERED, "dont_know": True, "sentiment": CALM}),
    ],
)
def test_an_answer_that_may_lead_to_a_human_is_checked(status, error, meta):
    assert handoff.escalation_possible(status, error, meta) is True


def test_dont_know_answers_need_no_checks_when_they_never_escalate(settings):
    settings.ESCALATE_AFTER_DONT_KNOW = 0
    assert handoff.escalation_possible("done", "", {"sources": [], "sentiment": CALM}) is False


DONT_KNOW = {"sources": [], "sentiment": CALM}


@pytest.mark.parametrize(
    "previous",
    [
        {},  # the first answer of the chat
        {"status": "done", "error": "", "meta": dict(ANSWERED)},  # an answer with sources
        {"status": "interrupted", "error": "", "meta": {"sources": []}},  # cut off by a takeover
    ],
)
def test_a_first_dont_know_after_a_real_answer_needs_no_checks(previous):
    assert handoff.escalation_possible("done", "", DONT_KNOW, previous) is False


def test_a_second_dont_know_in_a_row_is_checked(settings):
    previous = {"status": "done", "error": "", "meta": {"sources": [], "dont_know": True}}
    assert handoff.escalation_possible("done", "", DONT_KNOW, previous) is True
    assert handoff.escalation_possible("done", "", DONT_KNOW, None) is True  # not known: check
    settings.ESCALATE_AFTER_DONT_KNOW = 1
    assert handoff.escalation_possible("done", "", DONT_KNOW, {}) is True  # one is enough


def test_the_sentiment_threshold_is_the_one_the_checks_use(settings):
    meta = {**ANSWERED, "sentiment": {"score": -0.5, "level": "upset"}}  # a score, and no verdict
    assert handoff.escalation_possible("done", "", meta) is False
    settings.ESCALATE_SENTIMENT_AT = -0.5
    assert handoff.escalation_possible("done", "", meta) is True


@pytest.mark.parametrize(
    "sentiment", [-0.9, {"score": -0.85, "level": "extreme"}, {"score": -0.2, "level": "upset", "escalate": True}]
)
def test_whenever_the_checks_would_escalate_the_answer_is_checked(chat, sentiment):
    message_append(conversation_id=chat.pk, sender="player", text="!!!", meta={"sentiment": sentiment})
    answer = _answer(chat, [{"n": 1, "title": "Refunds", "source_id": "x"}], sentiment=sentiment)
    assert handoff.auto_escalation_reason(conversation_id=chat.pk) == "sentiment"
    assert handoff.escalation_possible(answer.status, answer.error, answer.meta) is True


def test_internal_notes_never_reach_the_llm(chat, alice):
    handoff.internal_note_add(conversation_id=chat.pk, agent=alice, text="VIP, be nice")
    note = Message.objects.get(internal=True)
    assert (note.sender, note.author, note.meta["name"]) == ("agent", alice, "Alice")
    context = context_for_conversation(chat.pk)
    assert all("VIP" not in m.content for m in context.history)
