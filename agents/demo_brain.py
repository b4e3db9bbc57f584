"""The demo's brain (Starfall Legends): the facts, tools and intents the bot starts with.

Loaded by migration 0003 and, when the intent table is empty (a test database
that was flushed, a restored one), by `csbot_setup`. Managers edit them in the admin.
"""

# How long the demo's tools wait for the game backend (agents/demo_backend.py's slow order waits longer).
TOOL_TIMEOUT_SECONDS = 5.0

ORDER_NO = r"SL\d{10}|SF-\d{12}|GPA\.\d{4}-\d{4}-\d{4}-\d{5}(?:\.\.\d{1,3})?|M(?=[A-Z]*\d)[A-Z0-9]{9}"

# The item a player lost, named in their own words: "I lost my Frostfang Sword", "my Comet
# Stag mount is gone", "我的霜牙之剑丢了", "不小心把霜牙之剑分解了". Only these shapes count: a
# name anywhere else in a message is too easily a random word. (At most 500 characters:
# migration 0003 stores the demo facts in columns that size.)
_EN_NAME = r"([\w+'-]+(?:\s+[\w+'-]+){0,4}?)"  # one to five words, as few as fit
# After "lost my …" the name ends where the sentence goes on: punctuation, the end, or one of these.
_EN_NAME_END = r"(?=\s*(?:[^\w\s'+-]|$)|\s+(?:from|in|at|on|after|yesterday|today|and|but|by|to|for|is|was|anywhere)\b)"
_ZH_NAME = r"[“「【]?([^\s，。！？、,.!?；;：:“”「」【】]{1,15}?)[”」】]?"
ITEM_NAME_EXTRACT = "|".join(
    (
        rf"\b(?:lost|deleted|sold|salvaged|dismantled|dropped|can'?t find)\s+(?:all\s+)?(?:my|the)\s+{_EN_NAME}"
        rf"{_EN_NAME_END}",
        rf"\bmy\s+{_EN_NAME}\s+(?:(?:is|are|was|got|been)\s+)*(?:gone|missing|lost|disappeared|vanished|stolen)\b",
        rf"(?:我的|把(?:我的)?){_ZH_NAME}(?:突然|莫名其妙|又|都|被人|被|给|不小心|误)*"
        r"(?:弄丢|丢失?|不见|没|消失|找不到|删|偷|盗|分解|卖)了",
    )
)
# A word for any item at all names none: "my gear is gone" still needs "which item?" (so do "装备和坐骑").
_ANY_ITEM = (
    r"(?:items?|stuff|things?|gear|equipment|everything|inventory|bag|loot|weapons?|mounts?|pets?|gold|crystals|"
    r"account|password|it|them|装备|东西|道具|物品|武器|背包|仓库|坐骑|宠物|金币|星晶|账号|号|钱)"
)
ITEM_NAME = rf"(?!(?:(?:all|my|the|wrong|whole|legendary)\s+)*(?:{_ANY_ITEM}(?:\s*(?:and|和|与|、|,)\s*|$))+$).{{1,60}}"

PLAYER_ID_EXTRACT = (
    r"(?<![a-z])(?:uid|id)(?:\s*(?:number|no\.?|num|号码?|编号))?(?:\s*(?:'s|is|was)\b)?"
    r"\s*(?:是|为|=|:|：|#)?\s*(\d{5,12})(?!\d)"
)

FACTS = [
    {
        "name": "player_id",
        "label_en": "Player ID",
        "label_zh": "玩家ID",
        "question_en": "What is your player ID? You find it under Settings → Account.",
        "question_zh": "请告诉我你的玩家ID（在 设置 → 账号 里可以看到）。",
        "pattern": r"\d{5,12}",
        # "player ID: 10086", "my uid is 10086", "我的ID是10086", "角色ID号 10086"; not the "id" of
        # "I paid 648000" (a letter before it), nor part of a longer number.
        "extract_pattern": PLAYER_ID_EXTRACT,
        "placeholder": "10086",
    },
    {
        "name": "server",
        "label_en": "Server",
        "label_zh": "服务器",
        "question_en": "Which server do you play on (S1 Dawn, S2 Tide, S3 Ember or S4 Frost)?",
        "question_zh": "你在哪个服务器（S1 晨曦、S2 潮汐、S3 余烬、S4 霜语）？",
        "field_type": "choice",
        "pattern": r"S[1-4]",
        "choices": {
            "S1": ["s1", "server 1", "1服", "一服", "1区", "一区", "晨曦", "dawn"],
            "S2": ["s2", "server 2", "2服", "二服", "2区", "二区", "潮汐", "tide"],
            "S3": ["s3", "server 3", "3服", "三服", "3区", "三区", "余烬", "ember"],
            "S4": ["s4", "server 4", "4服", "四服", "4区", "四区", "霜语", "frost"],
        },
    },
    {
        "name": "order_no",
        "label_en": "Order number",
        "label_zh": "订单号",
        "question_en": "What is the order number? It is on your receipt: GPA.… for Google Play, the order ID in "
        "Apple's receipt e-mail, SF- and 12 digits for our web shop, or SL… in Settings → Account → Purchase History.",
        "question_zh": "请提供订单号：Google Play 以 GPA. 开头，App Store 订单号在苹果的收据邮件中，"
        "官网商城为 SF- 加 12 位数字，游戏内「设置 → 账号 → 购买记录」中的订单号以 SL 开头。",
        # The formats the help article names (demo_kb/recharge.*.md), and the game's own SL…
        # numbers, which the demo backend knows. An Apple order ID is ten letters and digits
        # starting with M; at least one digit, so that a word such as "mysterious" is not one.
        "pattern": ORDER_NO,
        "extract_pattern": rf"(?<![A-Za-z0-9.\-])({ORDER_NO})(?![A-Za-z0-9\-])",
        "placeholder": "GPA.1234-5678-9012-34567",
    },
    {
        "name": "purchase_time",
        "label_en": "Time of purchase",
        "label_zh": "购买时间",
        "question_en": "When did you buy it (for example 2025-06-12 20:15)?",
        "question_zh": "大概是什么时候购买的（例如 2025-06-12 20:15）？",
        "pattern": r"\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2})?|\d{1,2}月\d{1,2}[日号](?:\s*\d{1,2}[:：点]\d{0,2}分?)?"
        r"|今天|昨天|前天|刚才|today|yesterday|just now",
        "extract_pattern": r"(\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2})?"
        r"|\d{1,2}月\d{1,2}[日号](?:\s*\d{1,2}[:：点]\d{0,2}分?)?"
        r"|今天|昨天|前天|刚才|today|yesterday|just now)",
        "placeholder": "2025-06-12 20:15",
    },
    {
        "name": "device",
        "label_en": "Device",
        "label_zh": "设备",
        "question_en": "Which device do you play on: iOS, Android or PC?",
        "question_zh": "你用什么设备玩：iOS、安卓还是电脑？",
        "field_type": "choice",
        "pattern": r"iOS|Android|PC",
        "choices": {
            "iOS": ["ios", "iphone", "ipad", "苹果"],
            "Android": ["android", "安卓", "华为", "小米", "samsung", "三星"],
            "PC": ["pc", "电脑", "windows", "steam", "笔记本"],
        },
    },
    {
        "name": "item_name",
        "label_en": "Item",
        "label_zh": "物品名称",
        "question_en": "Which item is missing?",
        "question_zh": "丢失的是哪件物品？",
        "pattern": ITEM_NAME,
        "extract_pattern": ITEM_NAME_EXTRACT,
        "placeholder": "",
    },
]

TOOLS = [
    {
        "name": "order_status",
        "description": "Look up the status of one of the player's top-up orders by its order number.",
        "url": "{GAME_BACKEND_URL}/api/orders/{order_no}",
        "params": {"player_id": "player_id", "order_no": "order_no"},
    },
    {
        "name": "ban_status",
        "description": "Look up whether the player's account is banned, why, until when, and any appeal.",
        "url": "{GAME_BACKEND_URL}/api/players/{player_id}/ban",
        "params": {"player_id": "player_id"},
    },
    {
        "name": "mail_lookup",
        "description": "Look up items sent to the player's in-game mail (returns, compensation, restores).",
        "url": "{GAME_BACKEND_URL}/api/players/{player_id}/mail",
        "params": {"player_id": "player_id", "item": "item_name"},
    },
]

# (name, label_en, label_zh, action, tool, facts, description, examples)
INTENTS = [
    (
        "recharge_not_arrived",
        "Top-up not received",
        "充值未到账",
        "tool",
        "order_status",
        ["order_no"],
        "Paid for a top-up but the crystals or items did not arrive.",
        """充值没到账
        我充值了但是星晶没到
        钱扣了钻石没到账
        付款成功了东西没收到
        冲值了半天还没到
        充了648没有到账
        买了月卡没有生效
        支付成功但是没发货
        订单显示成功但没到账
        充值不到账怎么办
        查一下我的订单到了没有
        my top-up didn't arrive
        paid for crystals but didn't get them
        money was taken but no crystals
        recharge not received
        i bought the monthly card but it's not active
        purchase went through but nothing in my account
        check my order status
        where are my crystals i paid for
        topup missing after payment
        i paid an hour ago and got nothing
        付款两个小时了还没到""",
    ),
    (
        "ban_appeal",
        "Banned account",
        "封号申诉",
        "tool",
        "ban_status",
        [],
        "The account is banned or suspended; the player wants to know why or to appeal.",
        """我的号被封了
        账号被封了怎么解封
        为什么封我号
        封号申诉
        我没开挂为什么被封
        账号被冻结了
        登录提示账号已封禁
        封号多久能解
        申诉封号要多久
        我被误封了
        my account got banned
        why was i banned
        how do i appeal a ban
        account suspended for no reason
        i was banned but i never cheated
        unban my account
        remove the ban from my account
        wrongly banned
        how long does the suspension last
        my account is locked for cheating but i didn't""",
    ),
    (
        "lost_items",
        "Lost items",
        "物品丢失",
        "tool",
        "mail_lookup",
        ["server", "item_name"],
        "Items, gear or currency disappeared from the bag, warehouse or auction house.",
        """我的装备不见了
        背包里的东西没了
        武器突然消失了
        不小心把装备分解了
        道具丢失了能找回吗
        仓库里的东西少了
        拍卖行下架的东西去哪了
        误删了物品
        金币莫名其妙少了
        坐骑不见了
        my sword disappeared
        items missing from my bag
        lost my gear
        accidentally sold my weapon
        i deleted an item by mistake can i get it back
        where did my expired auction listings go
        my warehouse items are gone
        my mount vanished
        recover lost items""",
    ),
    (
        "bug_report",
        "Report a bug",
        "反馈BUG",
        "answer",
        None,
        ["device", "server"],
        "The game crashes, shows an error code or something does not work as it should.",
        """游戏闪退
        一直闪退进不去
        发现一个bug
        登录报错E-1003
        画面卡住不动了
        任务没法完成是bug吗
        游戏黑屏
        更新后打不开了
        报错连接超时
        技能没有伤害是不是bug
        the game keeps crashing
        i found a bug
        error code E-1003 when logging in
        the screen freezes
        black screen after update
        quest is bugged can't complete it
        game won't start
        how do i report a bug
        stuck on the loading screen""",
    ),
    (
        "gameplay",
        "Gameplay",
        "玩法攻略",
        "answer",
        None,
        [],
        "How the game works: classes, levelling, guilds, arena, crafting.",
        """新手选什么职业好
        怎么快速升级
        公会怎么加入
        竞技场段位有哪些
        怎么提升战力
        副本怎么打
        哪个职业适合奶妈
        装备怎么强化
        宠物怎么获得
        天赋怎么加点
        which class is best for beginners
        how do i level up fast
        how to join a guild
        what are the arena ranks
        how do i increase my power
        best healer class
        how to upgrade gear
        how do i get pets
        dungeon tips""",
    ),
    (
        "events",
        "Events",
        "活动",
        "answer",
        None,
        [],
        "Current and upcoming in-game events, their rewards and rules.",
        """现在有什么活动
        最近有活动吗
        彗星角鹿坐骑怎么获得
        庆典活动奖励没收到
        活动什么时候结束
        周年庆有什么奖励
        签到奖励怎么领
        限时活动在哪参加
        活动兑换码怎么用
        双倍经验什么时候开
        what events are on now
        current event
        how do i get the comet stag mount
        didn't get my festival reward
        when does the event end
        anniversary rewards
        how to claim login rewards
        where do i redeem a code
        is there double xp this weekend
        event reward not received
        活动奖励没到账
        leaderboard reward didn't arrive
        排行榜奖励没发""",
    ),
    (
        "refund",
        "Refund",
        "退款",
        "answer",
        None,
        ["order_no"],
        "The player wants money back for a purchase.",
        """我要退款
        买错了能退钱吗
        怎么申请退款
        小孩偷偷充值了可以退吗
        误购了礼包能退吗
        退款多久到账
        重复扣款了要退钱
        不想要了能退款吗
        充错了账号能退吗
        i want a refund
        can i get my money back
        how do i request a refund
        my kid bought stuff without asking
        bought the wrong pack by mistake refund please
        charged twice please refund
        how long does a refund take
        refund my purchase""",
    ),
    (
        "account_security",
        "Account security",
        "账号安全",
        "answer",
        None,
        [],
        "Passwords, two-step verification, phishing and scams.",
        """忘记密码了怎么办
        忘了密码
        密码不对登录不了
        怎么修改密码
        二次验证怎么开
        收到钓鱼链接怎么办
        绑定的手机号换了
        怎么换绑邮箱
        有人送免费星晶让我点链接
        有人自称官方客服找我要密码
        登录验证码收不到
        forgot my password
        how do i change my password
        how to turn on 2fa
        is this free crystals link a scam
        someone pretending to be support asked for my verification code
        change the email on my account
        i didn't get the login code
        reset password""",
    ),
    (
        "account_hacked",
        "Hacked account",
        "账号被盗",
        "answer",
        None,
        # What staff need to restore a hacked account's e-mail or items (demo_kb/account-security.*.md).
        ["player_id", "server"],
        "Someone else got into the account: stolen, password or bound e-mail changed, a login the player did not make.",
        """账号被盗了
        我的号被盗了怎么办
        有人登录了我的账号
        号被别人盗了
        绑定的邮箱被人改了
        我的密码被别人改了
        盗号的把我装备转走了
        有陌生设备登录了我的号
        my account was hacked
        someone logged into my account
        someone changed my password
        the e-mail on my account was changed by someone else
        a hacker took my items
        there is a login from a device i don't know""",
    ),
    (
        "report_player",
        "Report a player",
        "举报玩家",
        "answer",
        None,
        [],
        "The player wants to report someone else: cheating, bots, harassment or a scam.",
        """举报外挂
        有人开挂怎么举报
        怎么举报骂人的玩家
        有人用脚本刷副本
        这个人开挂了
        有玩家骗了我的东西要举报
        how do i report a cheater
        report someone for cheating
        someone is cheating in arena
        this guy is botting
        someone keeps harassing me in chat
        report someone for scamming me""",
    ),
    (
        "login_connection",
        "Can't log in or lag",
        "登录和网络问题",
        "answer",
        None,
        [],
        "The player cannot log in, keeps getting disconnected, or the game lags (high ping).",
        """登录不了
        服务器连不上
        一直掉线
        老是断线
        游戏卡顿严重
        画面一卡一卡的
        延迟好高
        网络卡顿
        每天晚上都卡
        i can't log in
        can't login to the game
        keeps disconnecting
        i keep getting disconnected
        the game is lagging
        high ping
        lagging every evening""",
    ),
    (
        "account_trading",
        "Buying or selling accounts",
        "账号交易",
        "answer",
        None,
        [],
        "Whether an account may be sold, bought, shared or traded.",
        """账号能交易吗
        号能卖吗
        可以买号吗
        账号可以转让给别人吗
        想把号卖了
        can i sell my account
        is it allowed to buy an account
        can i trade accounts with a friend
        can i give my account to someone else""",
    ),
    (
        "contact_support",
        "Contact support",
        "联系客服",
        "answer",
        None,
        [],
        "How to reach support: a phone number, an e-mail, opening hours.",
        """客服电话是多少
        有没有客服电话
        客服邮箱是什么
        怎么联系你们
        what's your support phone
        can i call you
        customer service hotline
        support email address
        how do i contact support""",
    ),
    (
        "rename",
        "Change character name",
        "角色改名",
        "answer",
        None,
        [],
        "Changing the character's name: the Name Change Card, its price and limits.",
        """怎么改名
        怎么修改角色名
        角色名可以改吗
        想换个名字
        改名卡在哪买
        how do i change my name
        how do i rename my character
        can i change my character name
        where do i get a name change card
        i want a new name""",
    ),
    (
        "server_transfer",
        "Server transfer",
        "转服",
        "answer",
        None,
        [],
        "Moving a character to another server: when transfers open, the conditions and the price.",
        """怎么转服
        可以转服吗
        转服需要什么条件
        想把角色转到别的服务器
        转服要多少星晶
        什么时候开放转服
        how do i transfer servers
        can i transfer my character to another server
        server transfer
        move my character to a different server
        how much does a server transfer cost
        when do server transfers open""",
    ),
    (
        "human",
        "Talk to a human",
        "转人工",
        "handoff",
        None,
        [],
        "The player asks for a human agent.",
        """转人工
        人工客服
        我要找人工
        找真人客服
        不要机器人我要人工
        让客服来跟我说
        联系客服
        有没有真人
        talk to a human
        human agent please
        i want to speak to a real person
        connect me to customer support
        agent please
        let me talk to someone
        real person please
        can i talk to staff""",
    ),
]


def seed(apps, schema_editor=None) -> None:
    """Create (or reset) the demo facts, tools and intents. `apps`: a migration's, or django.apps.apps."""
    Fact = apps.get_model("agents", "Fact")
    Tool = apps.get_model("agents", "Tool")
    Intent = apps.get_model("agents", "Intent")
    facts = {}
    for row in FACTS:
        facts[row["name"]], _ = Fact.objects.update_or_create(name=row["name"], defaults=row)
    tools = {}
    for row in TOOLS:
        defaults = {
            **row,
            "auth_header": "Authorization",
            "auth_env": "GAME_BACKEND_AUTH",
            "timeout_seconds": TOOL_TIMEOUT_SECONDS,
        }
        tools[row["name"]], _ = Tool.objects.update_or_create(name=row["name"], defaults=defaults)
    for position, row in enumerate(INTENTS):
        name, tool, needs = row[0], row[4], row[5]
        defaults = {**intent_fields(name), "tool": tools.get(tool), "position": position}
        intent, _ = Intent.objects.update_or_create(name=name, defaults=defaults)
        intent.required_facts.set([facts[n] for n in needs])

    from agents import catalogue

    catalogue.invalidate()


def intent_fields(name: str) -> dict:
    """The demo intent's own fields (not its tool, facts or position), as the Intent model has them:
    for seeding, and for the migrations that add an intent to a brain seeded before it."""
    _, label_en, label_zh, action, _tool, _needs, description, examples = next(row for row in INTENTS if row[0] == name)
    return {
        "label_en": label_en,
        "label_zh": label_zh,
        "action": action,
        "description": description,
        "examples": "\n".join(line.strip() for line in examples.strip().splitlines()),
    }


def add_intent(Intent, name: str):
    """Create the demo intent `name` where the human handoff is (it moves down one), or last.
    `Intent`: a migration's model; for the migrations that add a topic to a brain seeded before it."""
    from django.db.models import F

    human = Intent.objects.filter(name="human").first()
    if human is not None:
        position = human.position
        Intent.objects.filter(position__gte=position).update(position=F("position") + 1)
    else:
        position = (Intent.objects.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    return Intent.objects.create(name=name, position=position, **intent_fields(name))


def remove_intent(Intent, name: str) -> None:
    """Delete the intent `name`, if any, moving the ones after it up: `add_intent` undone."""
    from django.db.models import F

    intent = Intent.objects.filter(name=name).first()
    if intent is not None:
        intent.delete()
        Intent.objects.filter(position__gt=intent.position).update(position=F("position") - 1)


def add_examples(Intent, name: str, lines: list[str]) -> None:
    """Teach the intent `name`, if any, the example phrases it lacks; a manager's own stay."""
    intent = Intent.objects.filter(name=name).first()
    if intent is not None:
        kept = intent.examples.splitlines()
        intent.examples = "\n".join(kept + [line for line in lines if line not in kept])
        intent.save(update_fields=["examples"])


def remove_examples(Intent, name: str, lines: list[str]) -> None:
    """`add_examples` undone."""
    intent = Intent.objects.filter(name=name).first()
    if intent is not None:
        intent.examples = "\n".join(line for line in intent.examples.splitlines() if line not in lines)
        intent.save(update_fields=["examples"])


def seed_if_empty() -> bool:
    """Seed with the live models unless intents exist already; True when it seeded."""
    from django.apps import apps

    if apps.get_model("agents", "Intent").objects.exists():
        return False
    seed(apps)
    return True
