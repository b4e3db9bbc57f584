"""The terms a knowledge gap is grouped by, the same for a question in English and in Chinese.

Gaps are grouped by the index terms of their questions (gaps.py), and an English question
shares none with its Chinese twin: "crash on android 12 after update" and "新版本安卓12闪退"
made two groups of half the size, and the manager read two small gaps where there was one
large one. So before a question is cut into terms, the English words of a game's support
chats are written as the Chinese word players use for the same thing; jieba then cuts that
word as it cuts the Chinese questions, and both meet in the same terms. A word not listed
here stays English, and meets English questions only.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from agents.knowledge.tokenize import tokenize

# Several words that name one thing, as players type them (before the single words below);
# their own groups are non-capturing: `_PHRASE` tells them apart by their group's number.
_PHRASES = [
    (r"auction\s*house|trading\s*post|market\s*place|marketplace", "交易行"),
    (r"(?:redeem|redemption|gift|promo)\s*codes?|cdkeys?", "兑换码"),
    (r"cross[\s-]*server\s+(?:battle|war|fight|pvp)s?", "跨服战"),
    (r"cross[\s-]*server", "跨服"),
    # Moving a character between servers, which players call 转服.
    (
        r"server\s+transfers?|(?:transfer|chang|switch|mov)\w*\s+servers?"
        r"|(?:to\s+)?(?:another|a\s+different|a\s+new|other)\s+servers?",
        "转服",
    ),
    (r"(?:new|latest)\s+(?:patch|update|version)(?:es|s)?", "新版本"),
    (r"top[\s-]*ups?", "充值"),
    (r"monthly\s+(?:card|pass)(?:es|s)?", "月卡"),
    (r"level(?:l?ing|l?ed)?\s+up", "升级"),
    (r"(?:log|sign)(?:ged|ging)?\s*(?:in|on)(?:to)?", "登录"),
    (r"customer\s+(?:service|support)", "客服"),
    (r"verification\s+codes?", "验证码"),
    # "never arrived", "haven't received", "didn't get": what 没收到 says.
    (
        r"(?:not|never|didn'?t|did\s+not|haven'?t|have\s+not|hasn'?t|has\s+not)\s+(?:yet\s+)?(?:been\s+)?"
        r"(?:receiv\w*|arriv\w*|get|got|gotten|come|came|show(?:n|ed)?\s+up)",
        "没收到",
    ),
]
# One pass over the question for all of them, each its own group, the first listed winning.
_PHRASE = re.compile("|".join(rf"\b({pattern})\b" for pattern, _chinese in _PHRASES), re.IGNORECASE)

# One word, in any form the tokenizer folds together ("crashes", "crashed": "crash"), and the
# Chinese players write for it.
_SUPPORT_WORDS = """
    crash 闪退, android 安卓, iphone 苹果, ios 苹果, update 更新, patch 版本, version 版本, talent 天赋, build 加点,
    recommend 推荐, pet 宠物, evolve 进化, evolution 进化, material 材料, battle 战斗, start 开始, begin 开始,
    anniversary 周年庆, event 活动, reward 奖励, enter 输入, input 输入, item 道具, recharge 充值, receive 收到,
    arrive 到账, account 账号, password 密码, ban 封号, appeal 申诉, refund 退款, guild 公会, dungeon 副本,
    arena 竞技场, lag 卡顿, disconnect 掉线, login 登录, server 服务器, rename 改名, character 角色, level 等级,
    skin 皮肤, mount 坐骑, equipment 装备, gear 装备, gold 金币, coin 金币, diamond 钻石, gem 宝石, gift 礼包,
    mail 邮件, friend 好友, team 组队, quest 任务, mission 任务, season 赛季, ranked 排位, match 匹配,
    matchmaking 匹配, cheat 外挂, cheater 外挂, report 举报, bind 绑定, phone 手机, email 邮箱, delete 删除,
    minor 未成年人
"""
# What a game's world and shop are made of: the unanswered questions are about what the
# knowledge base does not cover yet, so their words are the game's, not support's.
_GAME_WORDS = """
    desert 沙漠, map 地图, zone 地图, area 区域, dragon 龙, breed 养, weapon 武器, armor 护甲, armour 护甲,
    skill 技能, hero 英雄, raid 团本, costume 时装, outfit 时装, title 称号, achievement 成就, daily 日常,
    stamina 体力, energy 体力, experience 经验, exp 经验, xp 经验, enhance 强化, refine 精炼, forge 锻造,
    craft 合成, summon 召唤, gacha 抽卡, backpack 背包, bag 背包, inventory 背包, warehouse 仓库, storage 仓库,
    shop 商城, store 商城, mall 商城, chest 宝箱, key 钥匙, fish 钓鱼, farm 农场, leaderboard 排行榜,
    tournament 比赛, story 剧情, chapter 章节, stage 关卡, marry 结婚, marriage 结婚, wedding 结婚, partner 伙伴,
    teammate 队友, voice 语音, chat 聊天, nickname 昵称, avatar 头像, discount 折扣, price 价格, free 免费,
    buy 购买, purchase 购买, trade 交易, exchange 兑换, lottery 抽奖, monster 怪物
"""
# Words that say nothing of what the question is about, as their Chinese (后, 新) would be dropped.
_SAYS_NOTHING = ("after", "before", "new")

# Chinese words that only ask (什么时候, 几点, 需要): their English ("when", "need") are stopwords.
ASKING = frozenset({"时候", "几点", "需要"})

_LATIN = re.compile(r"[A-Za-z]")
_ENGLISH_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")


@functools.cache
def _by_term() -> dict[str, str]:
    """Each listed word's index term, and its Chinese ("" for one that says nothing)."""
    words = [pair.split() for pair in re.split(r"[,\n]", _SUPPORT_WORDS + _GAME_WORDS) if pair.strip()]
    listed = {english: chinese for english, chinese in words} | dict.fromkeys(_SAYS_NOTHING, "")
    return {term: chinese for english, chinese in listed.items() for term in tokenize(english)}


@functools.lru_cache(maxsize=4096)
def _in_chinese(word: str) -> str:
    terms = tokenize(word)
    if len(terms) == 1 and terms[0] in _by_term():
        return f" {_by_term()[terms[0]]} "
    return word


def has_english_words(question: str) -> bool:
    """Whether in_chinese_words may write some of the question's words otherwise: without a Latin
    letter (full-width ones count) its terms are tokenize's own, less the words that only ask."""
    return bool(_LATIN.search(unicodedata.normalize("NFKC", question)))


def in_chinese_words(question: str) -> str:
    """The question with the English words listed here written as players write them in Chinese."""
    text = unicodedata.normalize("NFKC", question)
    if not has_english_words(text):
        return text  # most questions: nothing to write otherwise
    text = _PHRASE.sub(lambda found: f" {_PHRASES[found.lastindex - 1][1]} ", text)
    return _ENGLISH_WORD.sub(lambda found: _in_chinese(found.group()), text)


def question_terms(question: str) -> list[str]:
    """The terms a gap is grouped by: its index terms, in one vocabulary for both languages."""
    return sorted(set(tokenize(in_chinese_words(question))) - ASKING)
