"""Finding the knowledge-base passages that answer a player's question.

An answer built on an unrelated passage is worse than "I don't know", so a
passage must clear two bars besides ranking in the top k:
- it contains at least MIN_COVERAGE of the question's weight (the idf of its
  words, title words counting more than body words), so "recommend me a good
  pasta recipe" finds nothing although one article says "(recommended)". On the
  demo knowledge base the player questions of tests/agents/retrieval_questions.py
  reach 0.32 or more and the unrelated ones at most 0.26; "I lost my Frostfang Sword",
  two of whose three words no article has, 0.297 since the articles on logging in and lag
  (a word no chunk has weighs more the more chunks there are);
- the second and third passages, shown to the player as related sources, must be
  about the question too, not only mention its words in passing ("what events are
  on now" must not bring "Lost items" for its line on event items): each scores at
  least MIN_RELATIVE_SCORE of the best passage and has words of the question in
  its title (which says what the article is about) holding MIN_RELATED_TITLE_COVERAGE
  of its weight, not one common word (号), unless it scores nearly as well
  as the best (UNTITLED_MIN_RELATIVE_SCORE) on more than one word of the question.
  Words that say what went wrong (到账, "not received") count for neither, and one line
  that points at the best article ("Use **Forgot password**") is no second one.
  Over the questions of tests/agents/retrieval_questions.py and a few more, on the
  demo knowledge base, the second and third passages were off-topic 19 times and
  related 9 times by a reader's judgement; these bars drop 17 of the 19 and keep 6
  of the 9 (the 40% score bar alone kept all 19). Top-3 retrieval went from 60 to 59 of 60: "can i
  get my money back…" ranks "Lost items" first and the refund policy, which says
  "money back" only in its body, no longer follows it.

A passage is one chunk of its article: the one that matches best, narrowed to the section
of it that the question is about (_focused), or the article's introduction when the
question is about the article as a whole (_about_it_all).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import replace

from django.conf import settings

from agents.knowledge import embeddings, index, tokenize, vectors
from agents.knowledge.phrasing import in_the_help_centers_words
from agents.providers.base import Passage
from csbot.db import in_worker

MIN_COVERAGE = 0.29
MIN_RELATIVE_SCORE = 0.5
UNTITLED_MIN_RELATIVE_SCORE = 0.8
# A related passage's title must hold this much of the question's weight to count as being about
# it: one common word its title shares (号, 游戏, "log in") is not what the question is about.
# "号被封了怎么解封" no longer lists selling accounts (0.21), "小孩偷偷充值了可以退吗" a top-up that
# did not arrive (0.20); of the titles kept on the demo questions the lowest, "VIP levels" under
# "how do I level up fast", holds 0.31.
MIN_RELATED_TITLE_COVERAGE = 0.25
# A question matched by its title words alone, and sharing less than this with the knowledge
# base, is about the article as a whole (_about_it_all). Of the questions tried on the demo
# knowledge base (tests/agents/retrieval_questions.py and a few more), the two it moves read
# better from the introduction; "how long does a ban apeal take" (0.43) stays with "How to appeal".
WHOLE_ARTICLE_MAX_COVERAGE = 0.4
# Hybrid retrieval: the cosine similarity a passage needs to count on its own,
# and the RRF constant (60 in the original paper; small lists need less).
MIN_SIMILARITY = 0.5
RRF_K = 10
# Where a section of a chunk starts: a Markdown heading at the start of a line.
_SECTION_START = re.compile(r"\n+(?=#{1,6}\s)")
_LIST_ITEM = re.compile(r"\s*(?:[-*+]|\d+[.)])\s")

logger = logging.getLogger(__name__)


def search(query: str, *, k: int | None = None, language: str | None = None) -> list[Passage]:
    """The passages that answer the query, best first; [] when nothing does.

    Sync: reads the database when the index needs (re)building. With `language`,
    only documents in that language (or of unknown language) are searched.
    """
    k = k or settings.KB_TOP_K
    hits = _hits(index.get_index(), query, k=k, language=language)
    if embeddings.enabled():
        return _hybrid(query, hits, k=k, language=language)
    return [_passage(hit.chunk, hit.score) for hit in hits]


def search_topic(name: str, *, language: str | None = None) -> list[Passage]:
    """The articles about a topic found by its name ("Lost items"), each from its introduction.

    For a question that named a topic but shares too few words with its article. Sync, as `search`.
    """
    built = index.get_index()
    hits = _hits(built, name, k=settings.KB_TOP_K, language=language, whole_articles=True)
    # An article that names the whole topic in its title or a heading comes first (the rest keep
    # their order): "Hacked account" is "If your account was hacked" (under "Password reset,
    # two-step verification and phishing"), not a line of "Account banned or suspended".
    hits.sort(key=lambda hit: not _names_it(built, hit, name))
    return [_passage(hit.chunk, hit.score) for hit in hits]


def _names_it(built: index.BM25Index, hit: index.Hit, name: str) -> bool:
    """The article's title or a heading of the chunk found has every word of the topic's name."""
    found = built.chunks[hit.position]  # hit.chunk is the article's opening by now
    headings = [line for line in found.text.split("\n") if _SECTION_START.match("\n" + line)]
    words = _terms_of(" ".join([hit.chunk.title, *headings]))
    return all(term in words for term in built.term_weights(name))


@functools.lru_cache(maxsize=4096)
def _terms_of(text: str) -> frozenset[str]:
    """A section's or a heading's words, tokenized when a question first finds them, not at
    import (only the few chunks questions find need it), and kept: the same few are found often."""
    return frozenset(tokenize.tokenize(text))


def _hits(
    built: index.BM25Index, query: str, *, k: int, language: str | None, whole_articles: bool = False
) -> list[index.Hit]:
    hits = [hit for hit in built.search(query, k=k, language=language) if hit.coverage >= MIN_COVERAGE]
    weights: dict[str, float] | None = None  # the query's, once for all its hits, when one needs them
    if len(hits) > 1:
        weights = built.term_weights(query)
        hits = hits[:1] + [hit for hit in hits[1:] if _also_relevant(hit, hits[0], weights)]
    focused: list[index.Hit] = []
    for hit in hits:
        opening = built.openings[hit.chunk.document_id]
        if whole_articles or _about_it_all(hit, query, opening):
            focused.append(replace(hit, chunk=_introduction(built, hit.chunk.document_id)))
            continue
        if weights is None:
            weights = built.term_weights(query)
        narrowed = _focused(built, hit, weights)
        if hit.chunk == opening and not _SECTION_START.match("\n" + narrowed.chunk.text.lstrip()):
            # Narrowed to the introduction ("my top-up did not arrive" has "top-ups arrive"):
            # the question is about the article as a whole, read from its start.
            narrowed = replace(hit, chunk=_introduction(built, hit.chunk.document_id))
        focused.append(_the_section_it_names(built, narrowed, query, weights) or narrowed)
    return focused


def _introduction(built: index.BM25Index, document_id: int) -> index.IndexedChunk:
    """The article's opening chunk and the section after it: what to do, not only what the
    article is about.

    Chunks are cut by characters, and the same article runs about 2.6 times as many in English
    as in Chinese: "充值未到账"'s opening holds the introduction, "到账需要多久" and the checklist
    "请先自查", while "Recharge (top-up) not received"'s ends after "How long delivery takes", and
    "My top-up did not arrive" read only that this article explains what to check. So the
    passage goes on with the next chunk, and with those that go on with the same section.
    """
    start = built.opening_positions[document_id]
    passage = built.chunks[start]
    text = passage.text.strip()
    for position in range(start + 1, len(built.chunks)):
        following = built.chunks[position]
        heading = following.text.lstrip().split("\n", 1)[0]
        if following.document_id != document_id:
            break
        last_heading = next((line for line in reversed(text.split("\n")) if _SECTION_START.match("\n" + line)), "")
        if position > start + 1 and heading != last_heading:
            break  # a section of its own: the passage has what to do first
        body = following.text.lstrip()
        if heading == last_heading:
            body = body[len(heading) :].lstrip("\n")  # a copy of the heading it goes on under
            text = _going_on(text, body)
        else:
            text = f"{text}\n\n{body}"
    return replace(passage, text=text)


def _going_on(text: str, more: str) -> str:
    """A section's text and the rest of it from the next chunk: one list, when a list goes on in
    it, else a new paragraph. Joined by one line break, "No code? Check the spam folder…", the
    paragraph after "Forgot your password"'s steps, read as part of step 4."""
    last = text.rstrip().rsplit("\n", 1)[-1]
    goes_on = _LIST_ITEM.match(last) and _LIST_ITEM.match(more.lstrip("\n"))
    return f"{text.rstrip()}{chr(10) if goes_on else chr(10) * 2}{more.lstrip()}"


def _the_section_it_names(
    built: index.BM25Index, hit: index.Hit, query: str, weights: dict[str, float]
) -> index.Hit | None:
    """The one section of the hit's article whose heading names what the question is about (a
    word of the article's title), when the section found names nothing the question says.

    "I can't log in, it says error 1004" found "What to have ready" (its "the error code, if one
    is shown") and the bug report's introduction, and a player who cannot log in read what to
    send support, not "If you can't log in" and its steps, which a later chunk holds.
    """
    first_line = hit.chunk.text.lstrip().split("\n", 1)[0]
    asked = _terms_of(in_the_help_centers_words(query)) & weights.keys()
    subject = asked & _terms_of(hit.chunk.title)
    if not subject or not _SECTION_START.match("\n" + first_line) or _terms_of(first_line) & asked:
        return None  # an introduction, quoted as the article's answer on purpose, or a section it names
    sections: dict[str, str] = {}  # each heading of the article naming its subject, with its text
    for chunk in _article_chunks(built, hit.chunk.document_id):
        for section in _SECTION_START.split(chunk.text.strip()):
            heading, _, body = section.partition("\n")
            if not (_SECTION_START.match("\n" + heading) and _terms_of(heading) & subject):
                continue
            # A chunk that goes on with a section starts with a copy of its heading.
            sections[heading] = _going_on(sections[heading], body.strip()) if heading in sections else section
    if len(sections) != 1:
        return None
    return replace(hit, chunk=replace(hit.chunk, text=next(iter(sections.values()))))


def _article_chunks(built: index.BM25Index, document_id: int) -> list[index.IndexedChunk]:
    start = built.opening_positions[document_id]
    chunks = []
    for chunk in built.chunks[start:]:
        if chunk.document_id != document_id:
            break
        chunks.append(chunk)
    return chunks


def _focused(built: index.BM25Index, hit: index.Hit, weights: dict[str, float]) -> index.Hit:
    """The hit narrowed to the one section of its chunk that the question is about.

    A chunk holds several short sections ("When the event ends" and "Reward not received?"),
    and the answer quotes a passage from its start: "庆典活动奖励没收到" would read first what
    happens to leftover shards. The section holding most of the question's weight is the
    passage, unless another holds as much (then the question is about all of them).
    """
    chunk = _with_its_sections_start(built, hit)
    sections = _SECTION_START.split(chunk.text.strip())
    if len(sections) < 2:
        return replace(hit, chunk=chunk)
    shares = [sum(weights.get(term, 0.0) for term in _terms_of(section)) for section in sections]
    best = max(shares)
    if not best or shares.count(best) > 1:
        return replace(hit, chunk=chunk)
    return replace(hit, chunk=replace(chunk, text=sections[shares.index(best)]))


def _with_its_sections_start(built: index.BM25Index, hit: index.Hit) -> index.IndexedChunk:
    """A chunk that goes on with the section the chunk before it ended in (it starts with a
    copy of that heading, agents/knowledge/chunking.py), with the section's start put back.

    Alone, the last line of "Reward not received?" ("Next season's event…", under a copy of
    the heading) outranks the section it ends, being shorter, and would be all the answer says.
    """
    heading = hit.chunk.text.lstrip().split("\n", 1)[0]
    if hit.position < 1 or not _SECTION_START.match("\n" + heading):
        return hit.chunk
    before = built.chunks[hit.position - 1]
    if before.document_id != hit.chunk.document_id:
        return hit.chunk
    start = _SECTION_START.split(before.text.strip())[-1]
    if start.split("\n", 1)[0] != heading:
        return hit.chunk  # the chunk starts a section of its own
    return replace(hit.chunk, text=start + hit.chunk.text.lstrip()[len(heading) :])


def _about_it_all(hit: index.Hit, query: str, opening: index.IndexedChunk) -> bool:
    """The question shares only the article's subject with it (the words of its title): it is
    about the article as a whole, which is quoted from its introduction, not from whichever
    section repeats the subject most.

    Either it shares little else with the knowledge base ("I lost my Frostfang Sword", not
    "What we cannot restore"), or the section is about something the question did not ask:
    "what events are on now" is not "When the event ends", whose heading names the event and
    its end. "how do I appeal a ban" keeps "How to appeal", whose heading asks nothing more.
    """
    if hit.title_coverage < hit.coverage - 1e-9:
        return False
    if hit.chunk == opening:
        # "我的号被封了" finds the introduction's own chunk, and narrowed to the section that
        # repeats the subject most ("永久封号") it lost the introduction ("登录时看到处罚通知…说明
        # 账号…受到了限制"), which "my account got banned" reads, having found a later chunk.
        # A section whose heading the question names ("登录不了" in "登录不了怎么办") is its answer.
        return not _a_heading_names(opening, query)
    return hit.coverage < WHOLE_ARTICLE_MAX_COVERAGE or _heading_says_more(hit.chunk, query, opening)


def _a_heading_names(chunk: index.IndexedChunk, query: str) -> bool:
    """A section heading of the chunk has a word of the question, in the help center's words
    ("登不上去" names "登录不了怎么办")."""
    headings = [line for line in chunk.text.split("\n") if _SECTION_START.match("\n" + line)]
    return bool(_terms_of(" ".join(headings)) & set(tokenize.tokenize(in_the_help_centers_words(query))))


def _heading_says_more(chunk: index.IndexedChunk, query: str, opening: index.IndexedChunk) -> bool:
    """The chunk's section heading has a word that neither the question, the title nor the
    article's introduction has: the introduction says what the article covers ("…and how to
    appeal if you think the ban is a mistake"), a section beyond it a particular of its own
    ("When the event ends")."""
    first_line = chunk.text.lstrip().split("\n", 1)[0]
    if not first_line.startswith("#") or chunk == opening:
        return False  # an introduction, or a row of a FAQ
    # Tokenized here, not for every question: few questions reach this test.
    known = set(tokenize.tokenize(query)) | set(tokenize.tokenize(chunk.title)) | set(tokenize.tokenize(opening.text))
    return bool(set(tokenize.tokenize(first_line)) - known)


def _also_relevant(hit: index.Hit, best: index.Hit, weights: dict[str, float]) -> bool:
    """A passage after the best is about the question too: by its title, or by nearly the best
    score on more than one of its words (on one common word, "how do I get it back", every
    article that says "back" scores about the same).

    Neither counts what went wrong ("not received", 到账): "活动奖励没到账" is about the event's
    reward, not the top-up whose title says 到账 too. Nor does one line that points at the best
    article, naming what its title says: "Can't log in" says "Forgot your password? Use
    **Forgot password**" and "you can appeal from **Appeal a ban**"."""
    share = hit.score / best.score
    about = {term: weight for term, weight in weights.items() if term not in _what_went_wrong()}
    found = {term for term in about if term in _terms_of(hit.chunk.title) or term in _terms_of(hit.chunk.text)}
    if share >= UNTITLED_MIN_RELATIVE_SCORE and len(found) >= 2 and not _points_at(hit.chunk, best.chunk, about):
        return True
    return share >= MIN_RELATIVE_SCORE and _title_coverage(hit, weights, about) >= MIN_RELATED_TITLE_COVERAGE


# Words that say what went wrong, not with what: many titles hold them ("Recharge (top-up) not
# received", "Lost or missing items", "充值未到账"), and sharing them says nothing of the subject.
_WENT_WRONG = "received arrived arrive missing lost 到账 没到账 收到 没收到 没到 不见 丢失"


@functools.cache
def _what_went_wrong() -> frozenset[str]:
    return frozenset(tokenize.tokenize(_WENT_WRONG))


def _title_coverage(hit: index.Hit, weights: dict[str, float], about: dict[str, float]) -> float:
    """The hit's title coverage counting only the words the question is about."""
    titled = [term for term in weights if term in _terms_of(hit.chunk.title)]
    total = sum(weights[term] for term in titled)
    if not total:
        return 0.0
    return hit.title_coverage * sum(about.get(term, 0.0) for term in titled) / total


def _points_at(chunk: index.IndexedChunk, best: index.IndexedChunk, about: dict[str, float]) -> bool:
    """The chunk has the question's words on one line only, and that line names what the best
    article's title says: a pointer to the article the player reads already."""
    lines = [_terms_of(line) & about.keys() for line in chunk.text.split("\n")]
    mentions = [terms for terms in lines if terms]
    return len(mentions) == 1 and bool(mentions[0] & _terms_of(best.title))


def _passage(chunk: index.IndexedChunk, score: float) -> Passage:
    return Passage(source_id=f"doc-{chunk.document_id}", title=chunk.title, text=chunk.text, score=round(score, 3))


def _hybrid(query: str, hits: list[index.Hit], *, k: int, language: str | None) -> list[Passage]:
    """BM25 and embedding similarity, fused by reciprocal rank (RRF).

    Each side keeps its own relevance bar (coverage for BM25, MIN_SIMILARITY
    for vectors), so a passage either finds relevant is in; one both rank high
    comes first. If the embedding API fails, BM25 alone answers.
    """
    try:
        vector = embeddings.embed([query])[0]
    except embeddings.EmbeddingError as exc:
        logger.warning("query embedding failed, BM25 only: %s", exc)
        return [_passage(hit.chunk, hit.score) for hit in hits]
    nearest = vectors.get_vector_index().search(vector, k=k, language=language)
    similar = [(chunk, score) for chunk, score in nearest if score >= MIN_SIMILARITY]
    fused: dict[int, float] = {}
    chunks: dict[int, index.IndexedChunk] = {}
    for ranked in ([hit.chunk for hit in hits], [chunk for chunk, _ in similar]):
        for rank, chunk in enumerate(ranked):
            fused[chunk.document_id] = fused.get(chunk.document_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            chunks.setdefault(chunk.document_id, chunk)
    best = sorted(fused, key=fused.get, reverse=True)[:k]
    return [_passage(chunks[document_id], fused[document_id]) for document_id in best]


async def asearch(query: str, *, k: int | None = None, language: str | None = None) -> list[Passage]:
    """`search` from async code: it runs in a worker thread, never on the event loop.

    Not on the single thread-sensitive DB thread either: an index build can take
    a second or two, and every socket of the process shares that thread.
    """
    return await in_worker(search, query, k=k, language=language)


def warm_up() -> None:
    """Load jieba and build the index now, rather than on the first question. Sync."""
    tokenize.warm_up()
    index.get_index()
