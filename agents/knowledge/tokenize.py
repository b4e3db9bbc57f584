"""Turning Chinese and English text into index terms.

Chinese runs go through jieba's search mode (words plus the shorter words inside
them, so 充值未到账 also yields 充值 and 到账). English is lowercased, split into
words and lightly stemmed, so "refunds", "refunded" and "refund" meet. Stopwords
and punctuation are dropped. A short list of spellings players really use
(冲值, topup, pwd) is folded into the word the knowledge base uses.

jieba's dictionary takes about a second to load: it is loaded once per process,
on first use or by `warm_up()`, into a private tokenizer so that the words added
here do not leak into other users of jieba.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

# Stored chunk terms (KnowledgeChunk.terms) record the version that made them.
# Bump it whenever tokenize() would give other terms for the same text.
TOKENIZER_VERSION = 1

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")

# Words jieba's general dictionary splits badly in support questions.
_DOMAIN_WORDS = [
    "星落传说", "星晶", "到账", "没到", "没收到", "收不到", "充值", "补单", "封号", "解封", "申诉", "开挂",
    "盗号", "被盗", "找回", "二次验证", "双重验证", "两步验证", "验证码", "闪退", "卡顿", "掉线",
    "公会", "副本", "竞技场", "天梯", "转职", "退款", "退费", "钓鱼", "月卡", "兑换码", "礼包码",
    "改名卡", "转服", "绑定", "注销", "外挂", "脚本", "漏洞", "活动", "奖励",
]  # fmt: skip

# Spellings and slang folded into the knowledge base's own word (after stemming).
_SYNONYMS = {
    "冲值": "充值",
    "氪金": "充值",
    "号": "账号",
    "封": "封号",
    "被封": "封号",
    "开挂": "外挂",
    "挂": "外挂",
    "退": "退款",
    "退钱": "退款",
    "小孩": "未成年人",
    "孩子": "未成年人",
    "熊孩子": "未成年人",
    "topup": "recharg",
    "kid": "minor",
    "child": "minor",
    "children": "minor",
    "acct": "account",
    "pwd": "password",
    "pw": "password",
    "passwd": "password",
}

_ENGLISH_STOPWORDS = frozenset(
    """a an the and or but if so of to in on at by for from with about as into than then
    is are was were be been being am do does did done have has had having will would can
    could should shall may might must i me my mine myself you your yours we us our they them
    their he him his she her it its this that these those there here what which who whom
    whose when where why how all any some just also very too only again still yet not no
    please pls plz hi hello hey thanks thank thx help get got im ive dont cant didnt isnt
    wont doesnt s t ll ve re d m u ur ok okay want need know tell like take way thing
    something anything anyone""".split()
)

_CHINESE_STOPWORDS = frozenset(
    """的 了 吗 呢 啊 吧 呀 哦 嘛 么 我 你 您 他 她 它 我们 你们 是 在 有 和 与 及 或 就 都 也 还 又
    要 想 会 能 对 把 被 让 给 这 那 这个 那个 这样 那样 什么 怎么 怎么办 怎样 如何 为什么 为何
    请问 请 一下 一个 一些 可以 可 啦 哈 嗯 个 之 其 但 但是 而 而且 如果 因为 所以 然后
    一张 一部 一首 一次 一点 一样 现在 已经 一直 还是 就是 好 很 太 非常 麻烦 谢谢 你好 问 下 到
    说 得 地 着 过 上 里 帮 帮忙 关于 怎么样 怎么回事 回事 咋 咋办 啥 为啥 哪 哪里 哪儿 能不能 是不是
    有没有 可不可以 半天 好久 刚才 刚刚""".split()
)  # fmt: skip

# Most single characters jieba leaves over (谁, 写, 去) say little on their own;
# these are whole words in support chats.
_CHINESE_SINGLE_WORDS = frozenset("钱 卡 丢 盗 骗 卖 买 换 改 充 扣 送 领 抽 删 绑 解 锁 登 升 级".split())

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def warm_up() -> None:
    """Load jieba's dictionary now rather than on the first question."""
    _jieba()


def tokenize(text: str) -> list[str]:
    """Index terms of the text, in order, repeats kept (BM25 counts them)."""
    # Full-width letters and digits (Ｅ－１００３, typed with a Chinese IME) become ASCII.
    text = unicodedata.normalize("NFKC", text)
    terms: list[str] = []
    position = 0
    for run in _CJK_RUN.finditer(text):
        terms.extend(_english_terms(text[position : run.start()]))
        terms.extend(_chinese_terms(run.group()))
        position = run.end()
    terms.extend(_english_terms(text[position:]))
    return terms


def _chinese_terms(run: str) -> list[str]:
    terms = []
    for word in _jieba().lcut_for_search(run):
        word = _SYNONYMS.get(word, word)
        if word in _CHINESE_STOPWORDS or (len(word) == 1 and word not in _CHINESE_SINGLE_WORDS):
            continue
        terms.append(word)
    return terms


def _english_terms(text: str) -> list[str]:
    terms = []
    for word in _WORD.findall(text.lower().replace("'", "").replace("\u2019", "")):
        if word in _ENGLISH_STOPWORDS:
            continue
        word = _stem(_SYNONYMS.get(word, word))
        word = _SYNONYMS.get(word, word)
        # "whats" and "takes" are stopwords once stemmed.
        if word not in _ENGLISH_STOPWORDS:
            terms.append(word)
    return terms


def _stem(word: str) -> str:
    """A few English suffixes off, enough that plurals and tenses meet."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)] + replacement
            # banned -> bann -> ban; but pass, fall and buzz keep their double letter.
            if replacement == "" and len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem.rstrip("e") if len(stem) > 3 else stem
    return word.rstrip("e") if len(word) > 3 else word


def _jieba() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for word in _DOMAIN_WORDS:
                    tokenizer.add_word(word, freq=20000)
                _tokenizer = tokenizer
    return _tokenizer
