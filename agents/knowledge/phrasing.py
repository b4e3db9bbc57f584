"""The question in the help center's words: how players say what the articles word otherwise.

Only the question is rewritten (BM25Index._query_terms), never an article: the stored
terms of the knowledge base stay as they are, and an edit here needs no re-import.
"""

from __future__ import annotations

import re
import unicodedata

from agents.sentiment import repeats_themselves

# Chat idioms whose words are no topic: "hey whats up" is no "top-up", "any event right now?"
# no "reset your password right away". Left out of a question ("level up" keeps its "up").
_IDIOMS = re.compile(r"\bwhat'?s\s+up\b|\bwass?up\b|\bright\s+(?:now|away)\b", re.IGNORECASE)
# When it happens says nothing of what happens: "每次打开商城就闪退" is a crash, and its 每次 found
# the appeal's "每次处罚只需提交一次申诉"; "lagging every evening" is lag, not an event.
_WHEN_IT_HAPPENS = re.compile(
    r"每次|每回|每当|每天晚上|每晚|\b(?:every|each)\s+(?:time|night|evening|morning)\b|\bwhenever\b",
    re.IGNORECASE,
)

# Words players use for the articles' own word, wherever they stand: no article says "stolen
# account" or 偷, they say "If your account was hacked" and "账号被盗怎么办".
_SAME_THING = [
    # "someone stole my account", "my account was compromised" (not "a hacker": players call a cheater that)
    (
        re.compile(r"\b(?:stole|stolen|steal|steals|stealing|compromised|hijacked)\b", re.IGNORECASE),
        " hacked ",
    ),
    # "How do I recover my account?" (the English page's own suggestion), "get my account back":
    # the account article's introduction says "reset a forgotten password, recover an account you
    # cannot get into", but the FAQ on trading accounts, short, with "account" in its title and
    # "the original owner can recover it", came first.
    (
        re.compile(
            r"\b(?:recover(?:ing)?|restor(?:e|ing)|retriev(?:e|ing))\s+(?:my|an|the|your|our)\s+(?:old\s+|lost\s+|game\s+)?"
            r"account\b|\baccount\s+recovery\b|\bget\s+(?:my|an|the)\s+(?:old\s+|lost\s+)?account\s+back\b",
            re.IGNORECASE,
        ),
        " recover an account you cannot get into forgotten password ",
    ),
    # "账号丢失了怎么找回" (the Chinese page's suggestion), "找回账号", "号丢了": not a lost item (丢失, 找回)
    (
        re.compile(
            r"(?:账号|帐号)(?:丢失?了?|没了|找不回来?)(?:了)?(?:怎么|如何|要怎么|能)?找回|找回(?:我的)?(?:账号|帐号)|账号找回"
        ),
        "找回无法登录的账号 重置忘记的密码",
    ),
    # "where is my stuff", "all my stuff is gone": the articles say items; "stuff" was read as a
    # misspelt "staff" and found the phishing section ("Our staff will never ask…").
    (re.compile(r"\b(?:stuff|belongings)\b", re.IGNORECASE), " items "),
    # "someone pretending to be support", "a guy claiming to be a GM": what the articles call
    # phishing, and say of "our staff": they never ask for a password or a code.
    (
        re.compile(
            r"\b(?:pretend(?:s|ed|ing)?|claim(?:s|ed|ing)?|impersonat(?:e|es|ed|ing))\s+(?:to\s+be\s+)?"
            r"(?:an?\s+|the\s+)?(?:official\s+)?(?:gm|game\s*master|staff|support|admin|moderator|customer\s+service)\b",
            re.IGNORECASE,
        ),
        " scam staff ",
    ),
    # "有人冒充客服", "自称官方的人", "假客服"
    (
        re.compile(r"(?:冒充|自称|假冒|假装是?|假)(?:是)?(?:官方)?(?:客服|官方|工作人员|GM|管理员)", re.IGNORECASE),
        "诈骗 官方工作人员",
    ),
    # "账号被人盗了", "我被盗号了", "号被偷了", "有人盗我号"; not 偷偷 ("secretly") nor 盗版 ("pirated")
    (re.compile(r"(?:被人?|让人|给人)?(?:盗号|盗走|偷走|偷号|盗(?!版)|(?<!偷)偷(?!偷))"), "被盗"),
    # "角色名可以改吗", "名字能不能改": the FAQ says 修改角色名 and 改名卡, and a lone 改 is
    # neither, so the FAQ on moving a character (角色, 可以) came first.
    (re.compile(r"名字?(?:可以|能不能|可不可以|能|怎么|咋|如何)?(?:修)?改"), "名 改名"),
    # "我想改个名字", "改一下名字": 改名, not the 名字 of the FAQ on reporting a player.
    (re.compile(r"改(?:个|一下|一个)名字?"), "改名"),
    # "登不上去", "登陆不了": the articles say 登录 (a lone 登 is no word of theirs)
    (re.compile(r"登陆"), "登录"),
    (re.compile(r"登不(?:上去?|进去?|了)"), "登录 "),
    # "任务做不了", "任务完成不了", "任务卡住了": the bug article says 任务无法完成, a bug (not the login
    # article's 登录不了, nor the festival's daily 任务 to 完成)
    (
        re.compile(r"任务(?:一直|还是|老是)?(?:做不了|完成不了|做不完|交不了|没法完成|不能完成|卡住了?|卡着|卡在)"),
        "任务无法完成 bug",
    ),
    # "my quest won't complete", "the quest is bugged", "can't turn in the quest": the bug article
    # says "a quest that will not finish"; "quest" alone found the festival's "Festival quests".
    (
        re.compile(
            r"\bquests?\s+(?:is\s+|are\s+)?(?:still\s+)?(?:(?:won'?t|will\s+not|can'?t|cannot|can\s+not|doesn'?t"
            r"|does\s+not|isn'?t|is\s+not)\s+(?:be\s+)?(?:complete[ds]?|finish(?:ed)?|work(?:ing)?)|bugged|stuck|broken)"
            r"|\b(?:can'?t|cannot|can\s+not|unable\s+to)\s+(?:complete|finish|turn\s+in|hand\s+in)\s+"
            r"(?:the\s+|a\s+|my\s+|this\s+|that\s+)?(?:\w+\s+)?quests?\b",
            re.IGNORECASE,
        ),
        " quest will not finish bug ",
    ),
    # "转服要多少钱", "改名收费吗": the FAQs give a price in 星晶 ("每次转服需要 1500 星晶"); 多少 found
    # the contact FAQ's "客服电话是多少" instead.
    (
        re.compile(r"(?:要|需要|得|花)?(?:多少钱|几个钱|多少星晶)|收费|费用(?:是)?(?:多少)?|价格|价钱|要钱|贵不贵"),
        " 星晶 ",
    ),
    # "转区", "换服": the FAQ says 转服
    (re.compile(r"转区|换区|换服(?!务)"), "转服"),
    # "how much is a transfer", "what does renaming cost": the FAQs say "costs"
    (re.compile(r"\bhow\s+much\b|\bprice\b|\bfee\b", re.IGNORECASE), " cost "),
    # "change servers", "move to another server": a server transfer, not the rename FAQ's "change"
    (
        re.compile(
            r"\b(?:change|switch|move)\s+(?:my\s+|to\s+(?:another|a\s+different|a\s+new|other)\s+)?servers?\b",
            re.IGNORECASE,
        ),
        " transfer server ",
    ),
    # "游戏好卡", "太卡了", "卡成PPT": the articles say 卡顿 (not 月卡, 卡住 or 改名卡)
    (re.compile(r"(?:好|很|太|特别|超级?|有点|老是|总是|巨)卡(?![顿住死号片])|卡成"), "卡顿"),
]

# Phrasings of "not received": "didn't get" is all stopwords, so "I didn't get the event
# reward" found "When the event ends" rather than "Reward not received?".
_NOT_RECEIVED = [
    (
        re.compile(
            r"\b(?:didn'?t|did\s+not|haven'?t|have\s+not|hasn'?t|has\s+not|never|not|still\s+no)\s+"
            r"(?:(?:yet|even|ever)\s+)?(?:get|got|gotten|receive|received|recieve|recieved)\b",
            re.IGNORECASE,
        ),
        " not received ",
    ),
    # "签到奖励没领到", "奖励没拿到", "领不到奖励": the articles say 没收到
    (re.compile(r"没有?(?:领|拿)到|(?:领|拿)不到|没有收到"), "没收到"),
    # "签到奖励没到账", "补偿还没到", "排行榜奖励还没发": 到账 is the top-up article's word, and a
    # reward that did not arrive is the events article's 活动奖励没收到.
    (re.compile(r"(奖励|宝箱|补偿)(?:还|一直|都)?(?:没有?|未)(?:到账|到|发放?|下发)"), r"\1没收到"),
]

# A banned player who says they did nothing wrong ("I never cheated", "banned for no reason",
# "我没开挂") thinks the ban a mistake, and the ban article's answer to that is "How to appeal".
# Their "never" and "cheated" found "What happens next" (its line on an account "hacked and used
# for cheating"), which says what follows an appeal they have not sent. Not for the classifier
# (same_thing): it reads "never cheated" as the ban already.
_DENIES_IT = [
    (
        re.compile(
            r"\b(?:i\s+)?(?:never|didn'?t|did\s+not|don'?t|do\s+not|haven'?t|have\s+not|have\s+never)\s+"
            r"(?:ever\s+)?(?:cheat(?:ed|ing)?|bott(?:ed|ing)|(?:use[ds]?|using|ran|run)\s+(?:any\s+)?"
            r"(?:cheats?|hacks?|bots?|mods?|scripts?))\b"
            # Of a ban only: a game that "crashes for no reason" is no appeal.
            r"|(?<=ban)(?:ned)?\s+for\s+no\s+reason\b|\b(?:wrongly|unfairly|falsely|wrongfully)(?=\s+ban)",
            re.IGNORECASE,
        ),
        " appeal ",
    ),
    (
        re.compile(r"(?:从来)?没有?(?:开|用)(?:外|过)?挂|(?:从来)?没有?作(?:过)?弊|误封|冤枉|莫名其妙(?:地)?(?:被)?封"),
        " 申诉 ",
    ),
]

# In "I asked support 3 times about my missing sword", what says it was asked before: the asking,
# whom and how often. Its "support" found the FAQ on contacting support, and "asked" the
# hacked-account article's "Ask for item recovery"; the sword is what it is about.
_ASKING_BEFORE = re.compile(
    r"\b(?:asked|asking|told|telling|said|saying|explained|explaining|contacted|messaged|wrote|emailed"
    r"|repeat(?:ed|ing)?|already|again|you(?:\s+guys)?|your\s+team|support|customer\s+(?:service|support)"
    r"|(?:\d+|two|three|four|five|six|ten|several|multiple|many|so\s+many|a\s+dozen)\s+times|twice"
    r"|for\s+the\s+\w+\s+time|how\s+many\s+times|do|must|should|will|have\s+to)\b",
    re.IGNORECASE,
)

# What follows it and says no answer came: "I told you 3 times already", "… and nothing".
_NO_ANSWER_SINCE = re.compile(
    r"^\W*(?:already|again|now)\b|\b(?:and\s+|but\s+|still\s+)*(?:nothing|no\s+(?:answer|reply|help))"
    r"(?:\s+(?:happened|came|yet))?\W*$",
    re.IGNORECASE,
)


def without_asking_before(text: str) -> str:
    """The text without the words that say the player asked support before (agents/sentiment.py):
    they say how the player feels, not what about. A Chinese one ("问了客服三次") goes whole."""
    text = unicodedata.normalize("NFKC", text)
    found = repeats_themselves(text)
    if found is None:
        return text
    said = found.group(0)
    rest = _ASKING_BEFORE.sub(" ", said) if re.search(r"[A-Za-z]", said) else " "
    after = _NO_ANSWER_SINCE.sub(" ", text[found.end() :], count=1)
    return f"{text[: found.start()]}{rest}{after}"


def same_thing(text: str) -> str:
    """The text with players' words for a thing in the articles' word ("stolen" -> "hacked"),
    and without their saying they asked before.

    The intent classifier reads messages (and its examples) through this too. Not the
    phrasings of "not received": its examples word them already, and "never got my login
    reward" read as "not received" leant towards "i didn't get the login code".
    """
    text = without_asking_before(text)
    for pattern, replacement in _SAME_THING:
        text = pattern.sub(replacement, text)
    return text


def in_the_help_centers_words(question: str) -> str:
    """The question to search with: chat idioms left out, players' phrasings in the articles' words."""
    question = same_thing(_WHEN_IT_HAPPENS.sub(" ", _IDIOMS.sub(" ", question)))
    for pattern, replacement in _NOT_RECEIVED + _DENIES_IT:
        question = pattern.sub(replacement, question)
    return question
