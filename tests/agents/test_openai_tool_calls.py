"""OpenAI-compatible function calling (OpenAI, Qianfan v2): the model looks a player's records up
itself, over real sockets to the fake OpenAI server and the demo game backend.

The cast: Lin (game player 10086, signed in from the game), whose chat the model answers, and
whose order SL2025061202 (a Monthly Card, pending) it looks up.
"""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from agents.catalogue import get_catalogue, invalidate
from agents.fake_openai import FakeOpenAIServer
from agents.models import Tool
from agents.pipeline.prompt import Reply
from agents.pipeline.stream import answer_stream
from agents.providers import FunctionCall, get_provider
from agents.providers.base import ChatMessage, ChatRequest, Delta, Finish
from agents.providers.http import close_session
from chat.admin_words import understood
from chat.models import Player
from tests.agents.test_brain_in_the_chat import Chat

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "怎么修改密码"


def answer_from_the_tool(body: dict) -> list[str]:
    """A model that answers from the last `tool` message it was sent, in three chunks."""
    tool = [message for message in body["messages"] if message["role"] == "tool"]
    if not tool:
        return ["改密码请在设置里点“修改密码”。"]
    record = json.loads(tool[-1]["content"])
    if "error" in record:
        return ["抱歉，", "我现在查不到你的记录", f"（{record['error']}）。"]
    return ["你的订单", f"{record['order_no']} ", f"状态是 {record['status']}。"]


@pytest.fixture
async def fake_openai(settings):
    server = await FakeOpenAIServer(reply=answer_from_the_tool).start()
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = server.api_key
    settings.OPENAI_MODEL = "ernie-3.5-8k"
    yield server
    await close_session()
    await server.stop()


@pytest.fixture
def lin(demo_kb, game_backend):
    return Player.objects.create(game_player_id="10086", display_name="Lin", language="zh-hans")


def order_lookup(order_no: str, **extra: str) -> dict[str, str]:
    return {"name": "order_status", "arguments": json.dumps({"order_no": order_no, **extra})}


async def test_the_model_looks_up_the_players_order_and_answers_from_it(lin, fake_openai, game_backend):
    # It tries another player's id too: tools only ever see the verified one.
    fake_openai.script("tool_calls", calls=[order_lookup("SL2025061202", player_id="20002")], piece=5)
    async with Chat(lin) as chat:
        answer = await chat.say(QUESTION)

    assert answer.text == "你的订单SL2025061202 状态是 pending。"
    assert answer.end["status"] == "done"
    first, second = (request["body"] for request in fake_openai.requests)
    assert {tool["function"]["name"] for tool in first["tools"]} == {"order_status", "ban_status", "mail_lookup"}
    # The call as the model made it, then its result, naming it by its id.
    asked, result = second["messages"][-2:]
    [call] = asked["tool_calls"]
    assert call["function"]["name"] == "order_status" and call["id"] == result["tool_call_id"]
    assert json.loads(result["content"])["product"] == "Monthly Card"
    assert "tools" not in second
    assert [r["query"] for r in game_backend.requests] == [{"player_id": "10086"}]
    # Staff see the lookup behind the answer, as for ERNIE's.
    meta = await answer.meta()
    [looked_up] = meta["tool_calls"]
    assert looked_up["requested_by"] == "llm"
    assert looked_up["params"] == {"player_id": "10086", "order_no": "SL2025061202"}
    assert ("Tool order_status", "succeeded") in await sync_to_async(understood)(meta)


async def test_the_answer_after_a_lookup_streams_to_the_player_chunk_by_chunk(fake_openai, game_backend, demo_brain):
    fake_openai.delay = 0.05
    fake_openai.script("tool_calls", calls=[order_lookup("SL2025061202")])
    tools = (await sync_to_async(get_catalogue)()).tools
    request = ChatRequest(
        system="你是客服。",
        messages=[ChatMessage("user", QUESTION)],
        functions=[spec.function_schema() for spec in tools.values()],
    )
    reply = Reply("answer", request=request, verified_player_id="10086")

    async def go_ahead() -> None:
        return None

    deltas = [item.text async for item in answer_stream(reply, before_attempt=go_ahead) if isinstance(item, Delta)]

    # Each chunk as it arrives, not the answer at once when it ends.
    assert deltas == ["你的订单", "SL2025061202 ", "状态是 pending。"]


@pytest.mark.parametrize(("order_no", "error"), [("SL0000000500", "http_500"), ("SL0000000408", "timeout")])
async def test_a_lookup_that_fails_is_told_to_the_player_by_the_model(lin, fake_openai, order_no, error):
    # SL0000000408 takes the demo backend 2 s: longer than the tool's timeout here.
    await sync_to_async(Tool.objects.filter(name="order_status").update)(timeout_seconds=0.3)
    invalidate()
    fake_openai.script("tool_calls", calls=[order_lookup(order_no)])
    async with Chat(lin) as chat:
        answer = await chat.say(QUESTION)

    assert answer.text == f"抱歉，我现在查不到你的记录（{error}）。"
    assert answer.end["status"] == "done"
    meta = await answer.meta()
    assert [(c["tool"], c["ok"], c["error"]) for c in meta["tool_calls"]] == [("order_status", False, error)]
    assert ("Tool order_status", f"failed: {error}") in await sync_to_async(understood)(meta)


async def test_a_tool_the_model_makes_up_is_not_called_and_it_answers_without_it(lin, fake_openai, game_backend):
    fake_openai.script("tool_calls", calls=[{"name": "refund_everything", "arguments": "{}"}], said="我查一下。")
    async with Chat(lin) as chat:
        answer = await chat.say(QUESTION)

    # What it wrote before the call stays; then its answer.
    assert answer.text == "我查一下。抱歉，我现在查不到你的记录（unknown_tool）。"
    assert game_backend.requests == []
    asked = fake_openai.requests[-1]["body"]["messages"][-2]
    assert asked["content"] == "我查一下。"
    meta = await answer.meta()
    assert ("Tool refund_everything", "failed: unknown_tool") in await sync_to_async(understood)(meta)


async def test_two_calls_whose_argument_fragments_interleave_across_chunks_come_whole(fake_openai, demo_brain):
    fake_openai.script(
        "tool_calls",
        calls=[order_lookup("SL2025061202"), {"name": "mail_lookup", "arguments": '{"item_name": "霜牙之剑"}'}],
        piece=3,
    )
    functions = [spec.function_schema() for spec in (await sync_to_async(get_catalogue)()).tools.values()]
    request = ChatRequest(system="你是客服。", messages=[ChatMessage("user", QUESTION)], functions=functions)

    items = [item async for item in get_provider("openai").stream(request)]

    *calls, finish = items
    assert [(call.name, call.arguments) for call in calls] == [
        ("order_status", {"order_no": "SL2025061202"}),
        ("mail_lookup", {"item_name": "霜牙之剑"}),
    ]
    assert all(isinstance(call, FunctionCall) and call.id.startswith("call_") for call in calls)
    assert isinstance(finish, Finish) and finish.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    "setup",
    [
        {"LLM_TOOLS": False},  # the operator's server or model can't call functions
        {"OPENAI_MODEL": "ernie-speed-8k"},  # nor can ERNIE Speed, as on v1
    ],
)
async def test_a_model_that_cannot_call_tools_is_offered_none_and_still_answers(lin, fake_openai, settings, setup):
    for name, value in setup.items():
        setattr(settings, name, value)
    async with Chat(lin) as chat:
        answer = await chat.say(QUESTION)

    assert answer.text == "改密码请在设置里点“修改密码”。"
    [request] = fake_openai.requests
    assert "tools" not in request["body"]


async def test_a_model_that_only_calls_a_tool_again_after_the_lookup_is_asked_again(lin, fake_openai, game_backend):
    # Offered no tools after the lookup, it calls one anyway and writes nothing: that is no
    # answer, and the player must not be left with an empty bubble marked done.
    fake_openai.script("tool_calls", calls=[order_lookup("SL2025061202")])
    fake_openai.script("tool_calls", calls=[order_lookup("SL2025061202")])
    async with Chat(lin) as chat:
        answer = await chat.say(QUESTION)

    assert answer.text == "你的订单SL2025061202 状态是 pending。"
    assert answer.end["status"] == "done"
    assert len(fake_openai.requests) == 3
