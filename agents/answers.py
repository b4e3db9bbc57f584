"""What the bot says in its own words, in Chinese or English: no model needed.

Guidance for a vague question, a reply to thanks, asking for facts and noting them, soothing an upset player,
handing over to a human, and turning a tool's result into an answer. With an
LLM configured, tool results and knowledge answers are phrased by the LLM
(agents/pipeline/prompt.py); these texts are what the offline provider says
and what every provider says around its answer.
"""

from __future__ import annotations

from typing import Any

from agents.facts import CLAIMED_PLAYER_ID, FactSpec, choice_list, is_a_phone
from agents.tools import ToolResult


def _zh(language: str) -> bool:
    return language.startswith("zh")


def pick(language: str, zh: str, en: str) -> str:
    return zh if _zh(language) else en


# --- Guidance, asking, soothing, handing over -----------------------------------------


def guidance(language: str) -> str:
    return pick(
        language,
        "我想更准确地帮到你。你遇到的是下面哪一类问题？点一下按钮，或者再多说几句具体情况。",
        "I'd like to get this right for you. Which of these is it about? Tap one, or tell me a bit more.",
    )


def you_are_welcome(language: str) -> str:
    return pick(
        language,
        "不客气！还有其他问题的话，随时在这里问我。",
        "You're welcome! If anything else comes up, just ask here.",
    )


def who_answers(language: str) -> str:
    """ "are you a bot?": honestly, and how to reach a person (the button and the words chat/handoff.py knows)."""
    return pick(
        language,
        "我是游戏的自动客服助手，不是真人。想找客服同事的话，随时点“转人工客服”，或者直接发“转人工”。",
        "I'm the game's automated support assistant, not a person. To talk to someone from the support team, "
        'tap "Talk to a human" or write "talk to a human" at any time.',
    )


def here_to_help(language: str) -> str:
    """ "客服在吗", "is anyone from support there?": yes, and what happened (the button and the
    words chat/handoff.py knows reach a person)."""
    return pick(
        language,
        "在的！我是客服团队的智能助手，充值、封号、物品丢失、登录这些问题都可以先问我。遇到什么情况了？"
        "直接告诉我就好。想找客服同事的话，点下面的“转人工客服”。",
        "Yes, I'm here! I'm the support team's assistant, and I can help with top-ups, bans, lost items, "
        "logging in and more. What happened? Just tell me here. If you'd rather talk to someone from the team, "
        'tap "Talk to a human" below.',
    )


def tell_me_what_happened(language: str) -> str:
    """After a message that only vents: what the bot needs to help, and the way to a person."""
    return pick(
        language,
        "跟我说说发生了什么：你当时在做什么、哪里出了问题？我来帮你解决。也可以点下面的问题类型，"
        "或者点“转人工客服”找客服同事。",
        "Tell me what happened: what were you doing, and what went wrong? I'll help you sort it out. "
        'You can also tap a topic below, or "Talk to a human" to reach someone from the support team.',
    )


def sorry_to_repeat(language: str) -> str:
    """To a player who has asked before: the same answer again would not help them."""
    return pick(
        language,
        "抱歉让你反复询问，之前的回答显然没有解决你的问题，我就不再重复了。"
        "点下面的“转人工客服”，客服同事会接手并具体查看你的情况，能看到我们之前的对话，你不用再重复说明。",
        "I'm sorry you've had to ask again: my earlier answer clearly didn't solve it, so I won't repeat it. "
        'Tap "Talk to a human" below and a colleague will take over and look into your case; they can see '
        "our conversation, so you won't have to explain it again.",
    )


def asked_again(title: str, language: str) -> str:
    """To a calm player who sends the question the bot just answered with `title` once more:
    no apology for a grievance they did not voice, but the answer did not fit their case, so
    the bot asks what differs, and offers a person."""
    return pick(
        language,
        f"这个问题我刚才用“{title}”回答过了，看来和你的情况对不上。告诉我哪里不一样：你试过哪些步骤、"
        "游戏里显示了什么？我再帮你查。也可以点“转人工客服”，由客服同事接手。",
        f"I answered that just above with **{title}**, so it seems it didn't fit your case. Tell me what's "
        "different: which steps did you try, and what does the game show? I'll look again. Or tap "
        '"Talk to a human" and a colleague will take it from here.',
    )


def did_not_help(missing: list[FactSpec], language: str, *, offer_human: bool) -> str:
    """To "still doesn't work" after an answer: what the bot needs to look further (the
    `missing` details, else what the player sees now), and the way to a person."""
    if _zh(language):
        if missing:
            labels = "和".join(spec.label(language) for spec in missing)
            further = f"为了进一步排查，还需要你的{labels}：可以直接告诉我，也可以填写下面的表格。"
        else:
            further = "告诉我你试了哪些步骤、现在是什么情况，我再帮你查。"
        person = "也可以点“转人工客服”，客服同事会接手查看你的情况，能看到我们之前的对话，你不用再重复说明。"
        return f"抱歉，这个办法没能解决你的问题。{further}{person if offer_human else ''}"
    if missing:
        labels = " and ".join(f"{spec.label(language)[:1].lower()}{spec.label(language)[1:]}" for spec in missing)
        further = f"To look further I need your {labels}: tell me here or fill in the form below."
    else:
        further = "Tell me what you tried and what you see now, and I'll look again."
    person = (
        ' Or tap "Talk to a human" and a colleague will look into your case; they can see our conversation, '
        "so you won't have to explain it again."
    )
    return f"Sorry that didn't fix it. {further}{person if offer_human else ''}"


def sorry_it_did_not_work_out(language: str) -> str:
    """To "ok whatever" or "算了" after an answer: the player gives up; a way on, not the menu."""
    return pick(
        language,
        "好的，抱歉这次没能帮上你。需要的话点“转人工客服”，同事会接着帮你看；或者换个说法再跟我说一次，我再试试。",
        "Okay, I'm sorry I couldn't sort it out this time. If you like, tap \"Talk to a human\" and a colleague "
        "will pick it up, or tell me again in other words and I'll have another go.",
    )


def anything_else(language: str) -> str:
    return pick(
        language,
        "好的！还有其他问题的话，随时在这里问我。",
        "Great! If anything else comes up, just ask here.",
    )


def still_waiting(specs: list[FactSpec], language: str) -> str:
    """An "ok" to a request for details: what the bot still needs, once more and briefly."""
    if _zh(language):
        return f"好的，方便的时候把{'和'.join(spec.label(language) for spec in specs)}发给我就行。"
    labels = " and ".join(f"the {spec.label(language)[:1].lower()}{spec.label(language)[1:]}" for spec in specs)
    return f"Sure — send me {labels} when you have {'it' if len(specs) == 1 else 'them'}."


def needed_to_go_on(specs: list[FactSpec], language: str) -> str:
    """To "hurry up" while the bot waits for details: what it needs to go on, and where to give it."""
    if _zh(language):
        labels = "和".join(spec.label(language) for spec in specs)
        return f"我这边还差{labels}，发给我或者填写下面的表格，我马上接着帮你查。"
    labels = " and ".join(f"your {spec.label(language)[:1].lower()}{spec.label(language)[1:]}" for spec in specs)
    return f"To go on I need {labels}: tell me here or fill in the form below, and I'll look into it right away."


def ask_for_facts(specs: list[FactSpec], language: str, unknown: dict[str, str] | None = None) -> str:
    """The question for the facts; `unknown`: what the player named that is none of a fact's
    choices ("s7"), said first."""
    if len(specs) == 1:
        asked = specs[0].question(language)
    else:
        labels = ("、" if _zh(language) else ", ").join(spec.label(language) for spec in specs)
        asked = pick(
            language,
            f"为了帮你查清楚，还需要这些信息：{labels}。可以直接告诉我，也可以填写下面的表格。",
            f"To look into this I need a few details: {labels}. Tell me here, or fill in the form below.",
        )
    said = [_not_a_choice(spec, unknown[spec.name], language) for spec in specs if spec.name in (unknown or {})]
    return ("" if _zh(language) else " ").join([*said, asked])


def _not_a_choice(spec: FactSpec, value: str, language: str) -> str:
    """ "s7" is no server: which ones there are, unless the question that follows names them all."""
    label = spec.label(language)
    listed = all(choice in spec.question(language) for choice in spec.choices)
    lowered = f"{label[:1].lower()}{label[1:]}"
    if is_a_phone(value):
        # "samsung s10" to "Which server do you play on?": "There is no server s10" would read
        # as if the bot had not understood them; the player took the question for the device's.
        return pick(language, f"“{value}”是手机型号，不是{label}。", f'"{value}" is a phone, not a {lowered}.')
    if _zh(language):
        return f"没有“{value}”这个{label}。" + ("" if listed else f"可选的有：{choice_list(spec, language)}。")
    # "server 7" names itself: "There is no server 7.", not "no server "server 7"".
    named = value if value.lower().startswith(f"{lowered.lower()} ") else f'{lowered} "{value}"'
    return f"There is no {named}." + ("" if listed else f" It is one of {choice_list(spec, language)}.")


def said_back(specs: list[FactSpec], values: dict[str, str], language: str) -> str:
    """The details the player gave, as they read them back ("物品名称：霜牙之剑，服务器：S3").

    A player id they typed is said as they gave it (claimed_player_id): staff check it."""

    def value(spec: FactSpec) -> str:
        return values.get(spec.name) or values.get(CLAIMED_PLAYER_ID, "")

    return pick(language, "，", ", ").join(
        f"{spec.label(language)}{pick(language, '：', ': ')}{value(spec)}" for spec in specs
    )


def noted(
    specs: list[FactSpec], values: dict[str, str], language: str, still: list[FactSpec] = (), *, verify: bool = False
) -> str:
    """The details the player just gave, acknowledged, when there is nothing to look up with them.

    `still`: the topic's details the player has not given yet, said next (the form asks for
    them), rather than the way to a person: the player would not know what is left to give.
    `verify`: every detail is there, but the lookup needs the player signed in: what that takes."""
    details = said_back(specs, values, language)
    if still:
        tail = needed_to_go_on(still, language)
    elif verify:
        tail = verify_first(language)
    else:
        tail = pick(
            language,
            "如果上面的方法没有解决问题，点“转人工客服”，同事接手时能看到这些信息，你不用再重复说明。",
            'If the steps above don\'t solve it, tap "Talk to a human": a colleague will see these details, so '
            "you won't have to repeat them.",
        )
    return pick(language, f"好的，已记下：{details}。{tail}", f"Thanks, I've noted it: {details}. {tail}")


def sorry_for_the_wait(language: str) -> str:
    """For a player who hurries the bot along: the wait, not "the trouble", is what they feel."""
    return pick(language, "抱歉让你久等了。", "Sorry for the wait.")


def sorry_you_asked_again(language: str) -> str:
    """Before the answer to a player who says they asked before, and brings their case."""
    return pick(
        language,
        "抱歉让你反复询问，这次我们一起把它解决。",
        "I'm sorry you've had to ask more than once. Let's get this sorted now.",
    )


def soothe(language: str, *, strong: bool) -> str:
    """An acknowledgement (and apology) for an upset player, before the concrete answer;
    `strong` for a player who is very frustrated ("this is ridiculous", CAPS)."""
    if strong:
        return pick(
            language,
            "非常抱歉给你带来这么糟糕的体验，我理解你现在很生气。我们马上一起把它解决：",
            "I'm really sorry about this. I understand how frustrating it is, so let's sort it out right now:",
        )
    return pick(
        language,
        "抱歉让你着急了，我来帮你看看。",
        "Sorry for the trouble, I understand. Let me help you with this.",
    )


def sorry_about_the_game(language: str, *, strong: bool) -> str:
    """For a player angry at the game itself ("什么破游戏"): the game let them down, and that is
    what they hear owned; "sorry for making you wait" would answer a grievance they never had."""
    if strong:
        return pick(
            language,
            "听得出来这游戏让你非常恼火，真的很抱歉让你玩得这么糟心。",
            "I can tell the game has really got to you, and I'm truly sorry it's been such a bad experience.",
        )
    return pick(
        language,
        "听得出来这游戏让你挺窝火的，抱歉让你玩得不顺心。",
        "I hear you: the game has been frustrating you, and I'm sorry it hasn't been fun.",
    )


def handover(language: str, *, reason: str) -> str:
    if reason == "dont_know":
        return pick(
            language,
            "看来我的回答帮不上这个问题，我请客服同事来接手。他们能看到我们之前的对话，你不用重复说明，"
            "接入后会直接在这里回复你。",
            "My answers haven't helped with this, so I'm bringing in a colleague from the support team. They "
            "can see our conversation, so you won't have to repeat yourself; they'll reply right here.",
        )
    if reason == "sentiment":
        return pick(
            language,
            "非常抱歉让你这么不愉快，这件事我请人工客服来亲自处理。我已经把你说的情况转给了他们，"
            "你不用重复说明，客服接入后会直接在这里回复你。",
            "I'm very sorry this has been so frustrating. I've asked a human agent to take this over personally. "
            "They can see everything you've told me, so you won't have to repeat yourself; they'll reply right here.",
        )
    return pick(
        language,
        "好的，我这就为你转接人工客服。客服能看到我们之前的对话，接入后会直接在这里回复你。",
        "Of course. I'm connecting you with a human agent. They can see our conversation so far and will "
        "reply right here.",
    )


def a_person_for_what_is_not_found(language: str) -> str:
    """For an upset player whose question the help center does not cover: what a person can do."""
    return pick(
        language,
        "帮助中心里没有这个问题的资料，我不想随便猜。点下面的“转人工客服”，客服同事会直接在这里回复你，"
        "你不用重复说明。",
        "Our help center doesn't cover this, and I'd rather not guess. Tap \"Talk to a human\" below and a "
        "colleague from the support team will reply right here; you won't have to repeat yourself.",
    )


def offer_human(language: str) -> str:
    return pick(language, "转人工客服", "Talk to a human")


def verify_first(language: str, given: str = "") -> str:
    """What a lookup on the player's account needs: them signed in, which nothing typed in the
    chat can stand for (a player id typed is anyone's). `given`: the details they gave, said
    back first, so that they know those were not missed."""
    heard = (
        pick(language, f"你提供的信息我已经记下了（{given}）。", f"I've noted what you gave me ({given}). ")
        if given
        else ""
    )
    return heard + pick(
        language,
        "要查询你账号里的订单、封号或邮件记录，需要先确认是你本人，在这里输入的信息（包括玩家ID）没法证明这一点："
        "请在游戏内点 设置 → 客服中心 → 联系客服 打开客服聊天（会自动登录你的账号），再问我一次；"
        "或者点“转人工客服”，同事会核实你的身份，也能看到你在这里提供的信息。",
        "To look up orders, bans or mail on your account I first need to know it's you, and nothing typed here "
        "(a player ID included) can show that: in the game, open Settings → Help Center → Contact Support, which "
        'opens the support chat signed in to your account, and ask me again there. Or tap "Talk to a human": a '
        "colleague will verify you, and sees the details you gave here.",
    )


# --- Tool results -------------------------------------------------------------------------


def tool_failure(result: ToolResult, language: str) -> str:
    if result.error == "not_verified":
        return verify_first(language)
    if result.error == "not_found":
        what = result.params.get("order_no")
        if what:
            return pick(
                language,
                f"我在你的账号下没有找到订单 {what}。请对照收据核对一下订单号，或者点“转人工客服”让同事帮你查。",
                f"I couldn't find order {what} on your account. Please check the number against your receipt, "
                'or tap "Talk to a human" and a colleague will look into it.',
            )
        return pick(
            language,
            "我没有查到相关记录。需要的话我可以帮你转接人工客服。",
            "I couldn't find a matching record. I can connect you with a human agent if you like.",
        )
    # timeout, http_5xx, unreachable, bad_reply: the system is in trouble, not the player.
    return pick(
        language,
        "抱歉，查询系统暂时没有响应，我现在查不到结果。你可以稍后再试，或者点“转人工客服”，同事会继续帮你处理。",
        "Sorry, our records system isn't responding right now, so I can't check this at the moment. You can try "
        'again in a few minutes, or tap "Talk to a human" and a colleague will take it from here.',
    )


def tool_answer(result: ToolResult, language: str) -> str:
    """A tool's successful result, said plainly to the player."""
    if not result.ok:
        return tool_failure(result, language)
    render = _RENDERERS.get(result.tool, _generic)
    return render(result.data, language)


_ORDER_STATUS = {
    "delivered": ("已到账", "delivered"),
    "pending": ("处理中，尚未到账", "paid, waiting for delivery"),
    "failed": ("支付失败", "payment failed"),
    "refunded": ("已退款", "refunded"),
}


def _in_language(data: dict[str, Any], key: str, language: str) -> Any:
    """A name the player reads, in Chinese when the backend gives it (`item_zh`): 霜牙之剑, not
    "Frostfang Sword" to a player who asks in Chinese. Else the backend's own (`item`)."""
    return (_zh(language) and data.get(f"{key}_zh")) or data.get(key, "")


def _known(value: Any) -> str:
    """A field of a tool's reply as the player may read it: "" when it is missing or empty."""
    return "" if value is None else str(value).strip()


def _order(data: dict[str, Any], language: str) -> str:
    status = _known(data.get("status"))
    order_no = _known(data.get("order_no"))
    if status not in _ORDER_STATUS or not (_known(data.get("product")) or _known(data.get("paid_at"))):
        # Without a status, or without what the order was, the lookup answers nothing the
        # player can trust: never "found" with blanks.
        return pick(
            language,
            f"我查到了订单 {order_no}，但记录不完整，无法确认它的状态。请点“转人工客服”，同事会帮你核实。",
            f"I found order {order_no}, but its record is incomplete, so I can't tell you its status. "
            'Please tap "Talk to a human" and a colleague will check it for you.',
        )
    status_zh, status_en = _ORDER_STATUS[status]
    # Only the fields the backend gave: a missing one is left out, never shown as blank or "None".
    known = {key: _known(_in_language(data, key, language)) for key in ("product", "paid_at", "delivered_at")}
    if status != "delivered":
        known["delivered_at"] = ""
    if _zh(language):
        labels = {"product": "商品", "paid_at": "支付时间", "delivered_at": "到账时间"}
        lines = [f"我查到了你的订单 **{order_no}**：" if order_no else "我查到了你的订单："]
        lines += [f"- {labels[key]}：{value}" for key, value in known.items() if value and key != "delivered_at"]
        lines.append(f"- 状态：**{status_zh}**")
        if known["delivered_at"]:
            lines.append(f"- 到账时间：{known['delivered_at']}")
        if status == "delivered":
            lines.append(
                "\n星晶已经发放到你的账号。如果在游戏里还看不到，请重新登录一次；仍然没有的话告诉我，我帮你转人工。"
            )
        elif status == "pending":
            lines.append(
                "\n商店已确认付款，发放正在排队，通常 30 分钟内到账，请不要重复付款。"
                "超过 30 分钟还没到，告诉我，我帮你转人工加急处理。"
            )
        else:
            lines.append("\n如需进一步处理，我可以帮你转接人工客服。")
        return "\n".join(lines)
    labels = {"product": "Product", "paid_at": "Paid", "delivered_at": "Delivered"}
    lines = [f"I found your order **{order_no}**:" if order_no else "I found your order:"]
    lines += [f"- {labels[key]}: {value}" for key, value in known.items() if value and key != "delivered_at"]
    lines.append(f"- Status: **{status_en}**")
    if known["delivered_at"]:
        lines.append(f"- Delivered: {known['delivered_at']}")
    if status == "delivered":
        lines.append(
            "\nThe crystals are on your account. If you can't see them in the game, log out and back in; "
            "if they're still missing, tell me and I'll bring in a human agent."
        )
    elif status == "pending":
        lines.append(
            "\nThe store has confirmed the payment and delivery is queued; it usually takes under 30 minutes. "
            "Please don't pay again. If it's not there after 30 minutes, tell me and I'll escalate it."
        )
    else:
        lines.append("\nIf you need more help with it, I can connect you with a human agent.")
    return "\n".join(lines)


def _ban(data: dict[str, Any], language: str) -> str:
    if not data.get("banned"):
        return pick(
            language,
            "我查了你的账号：目前**没有**任何封禁记录，账号状态正常。如果登录时仍提示封禁，请截图发给我，我帮你转人工核实。",
            "I checked your account: there is **no** ban on it, and it is in good standing. If the game still says "
            "you're banned, send me a screenshot and I'll have a human agent verify it.",
        )
    code, until = data.get("code", ""), data.get("until", "")
    reason = _in_language(data, "reason", language)
    # Where and how long an appeal takes, as the help center's ban article says (agents/demo_kb).
    return pick(
        language,
        f"我查了你的账号：目前处于封禁状态（{code}），原因是“{reason}”，解封时间 {until}。"
        "如果你认为是误封，请在处罚后 30 天内申诉：打开官网申诉页面 support.starfall.example/appeal，"
        "或在登录界面点击“客服中心 → 封号申诉”，附上说明和截图。我们会在 5 个工作日内答复（高峰期最长 10 个工作日）。",
        f'I checked your account: it is suspended ({code}) for "{reason}" until {until}. If you believe this is a '
        "mistake, appeal within 30 days with the form at support.starfall.example/appeal, or tap Help Center → "
        "Appeal a ban on the login screen, with a short explanation and screenshots. We reply within 5 business "
        "days (up to 10 during busy periods).",
    )


def _mail(data: dict[str, Any], language: str) -> str:
    mail = data.get("mail") or []
    if not mail:
        return pick(
            language,
            "我查了你的游戏邮箱，没有找到这件物品的补发或退回记录。我可以帮你转人工客服，由同事核查物品日志。",
            "I checked your in-game mail and found no restore or return of that item. I can connect you with a human "
            "agent who can check the item logs.",
        )
    if _zh(language):
        lines = ["我在你的游戏邮箱里找到了这些记录："]
        for m in mail:
            state = "未领取" if m["status"] == "unclaimed" else "已领取"
            item, source = _in_language(m, "item", language), _in_language(m, "source", language)
            lines.append(f"- **{item}**：{source}，{m['sent_at']} 发出，状态：{state}")
        lines.append("\n未领取的邮件请尽快在游戏内“邮箱”中领取，过期后会被删除。")
        return "\n".join(lines)
    lines = ["I found these in your in-game mail:"]
    lines += [f"- **{m['item']}**: {m['source']}, sent {m['sent_at']}, {m['status']}" for m in mail]
    lines.append("\nClaim unclaimed mail from the in-game Mailbox soon: it is deleted when it expires.")
    return "\n".join(lines)


def _generic(data: Any, language: str) -> str:
    head = pick(language, "查询结果：", "Here is what I found:")
    if isinstance(data, dict):
        return head + "\n" + "\n".join(f"- {key}: {value}" for key, value in data.items())
    return f"{head} {data}"


_RENDERERS = {"order_status": _order, "ban_status": _ban, "mail_lookup": _mail}
