"""ERNIE function calling: the model asks for a tool, csbot calls it for the verified player only,
and the model answers with the result. Against a small fake ERNIE and the demo backend, over real sockets."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from asgiref.sync import sync_to_async

from agents.catalogue import get_catalogue
from agents.pipeline.prompt import Reply
from agents.pipeline.stream import answer_stream
from agents.providers import ChatMessage, ChatRequest, Delta, reset_providers
from agents.providers.http import close_session


class FunctionCallingErnie:
    """Asks for order_status (trying to smuggle in another player's id), then answers from the result."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    async def start(self) -> FunctionCallingErnie:
        app = web.Application()
        app.router.add_post("/oauth/2.0/token", self.token)
        app.router.add_post("/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{model}", self.chat)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": "tok", "expires_in": 2592000})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if body.get("functions"):
            call = {"name": "order_status", "arguments": json.dumps({"order_no": "sl2025061202", "player_id": "20002"})}
            chunk = {"result": "", "is_end": True, "finish_reason": "function_call", "function_call": call}
        else:
            status = "pending" if '"status": "pending"' in body["system"] else "unknown"
            usage = {"prompt_tokens": 5, "completion_tokens": 4}
            chunk = {"result": f"Your order is {status}.", "is_end": True, "usage": usage}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        return response

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def function_ernie(settings):
    server = await FunctionCallingErnie().start()
    settings.LLM_PROVIDER = "ernie"
    settings.ERNIE_BASE_URL = server.url
    settings.ERNIE_API_KEY, settings.ERNIE_SECRET_KEY = "ak", "sk"
    reset_providers()
    yield server
    await close_session()
    await server.stop()
    reset_providers()


@pytest.mark.django_db(transaction=True)
async def test_a_tool_the_model_asks_for_is_called_for_the_verified_player_only(
    function_ernie, game_backend, demo_brain
):
    tools = (await sync_to_async(get_catalogue)()).tools
    request = ChatRequest(
        system="You are support.",
        messages=[ChatMessage("user", "is my monthly card order SL2025061202 through?")],
        functions=[spec.function_schema() for spec in tools.values()],
    )
    reply = Reply("answer", request=request, verified_player_id="10086")

    async def go_ahead() -> None:
        return None

    items = [item async for item in answer_stream(reply, before_attempt=go_ahead)]
    text = "".join(item.text for item in items if isinstance(item, Delta))

    assert text == "Your order is pending."
    first, second = function_ernie.bodies
    assert {f["name"] for f in first["functions"]} == {"order_status", "ban_status", "mail_lookup"}
    assert "functions" not in second and "Monthly Card" in second["system"]
    assert reply.tool_calls[0]["params"] == {"player_id": "10086", "order_no": "SL2025061202"}
    assert [r["query"] for r in game_backend.requests] == [{"player_id": "10086"}]
