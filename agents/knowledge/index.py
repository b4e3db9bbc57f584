"""An in-memory BM25 index over every ready KnowledgeChunk, one per process.

A query walks only the postings of its own terms, so its cost grows with how
common those terms are, not with the size of the knowledge base. English words
the index has never seen are matched to a known word one edit away ("refnd" ->
"refund") through a table of single-letter deletions.

The process keeps one index and checks the database for changes at most every
CHECK_SECONDS (a cheap count/max query). The import service calls `invalidate()`
so that this process sees its own imports on the next search; other processes
catch up within CHECK_SECONDS. While one thread rebuilds, others go on searching
the previous index.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.knowledge.phrasing import in_the_help_centers_words
from agents.knowledge.tokenize import TOKENIZER_VERSION, tokenize

K1 = 1.5
B = 0.75
# The title's terms are kept with every chunk, and count twice: a chunk of
# "Recharge not received" outranks a passing mention of recharge elsewhere.
TITLE_WEIGHT = 2
# A misspelt word ranks for less than one spelt right, and is weaker evidence
# still that a passage is relevant: "bread" is one letter from "break".
FUZZY_WEIGHT = 0.7
FUZZY_EVIDENCE = 0.5
FUZZY_MIN_LENGTH = 5
# A question word the knowledge base never uses ("648", "yesterday", 钻石) still
# counts against coverage, but less than a rare word the question shares with
# a passage: players add words no article contains.
UNSEEN_WEIGHT = 0.5
# A word found only in the body is weaker evidence that the passage is about the
# question than one in the title (the title says what the article is about).
BODY_ONLY_COVERAGE = 0.75
CHECK_SECONDS = 5.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexedChunk:
    chunk_id: int
    document_id: int
    title: str
    text: str
    language: str = ""


@dataclass(frozen=True)
class _QueryTerm:
    term: str
    idf: float
    # How much it adds to a chunk's score, and to its coverage, per unit of idf.
    weight: float
    evidence: float
    # How much of the question it stands for (the denominator of coverage).
    weight_in_coverage: float


@dataclass(frozen=True)
class _Postings:
    """The chunks holding one term, as parallel arrays: a few bytes a posting rather than a tuple."""

    positions: array
    # The BM25 term-frequency part, which does not depend on the query.
    tf_parts: array
    # 1.0 if the term is in the chunk's title, else BODY_ONLY_COVERAGE.
    coverage_factors: array


@dataclass(frozen=True)
class Hit:
    chunk: IndexedChunk
    score: float
    # Share of the question's weight (sum of idf) that the chunk contains, 0..1.
    coverage: float
    # The share of it in the chunk's title: what the article is about, not a passing mention.
    title_coverage: float = 0.0
    # How many of the question's words the chunk holds.
    words: int = 0
    # Where the chunk is in BM25Index.chunks (the chunk before it in its document is the one before).
    position: int = -1


def stored_terms(title: str, text: str) -> dict:
    """What KnowledgeChunk.terms holds: tokenizing once at import keeps index builds fast."""
    return {"version": TOKENIZER_VERSION, "title": tokenize(title), "text": tokenize(text)}


class BM25Index:
    def __init__(self, entries: Iterable[tuple[IndexedChunk, Sequence[str], Sequence[str]]]):
        """Build from (chunk, title terms, text terms), the terms as tokenize() makes them,
        each document's chunks in order."""
        self.chunks: list[IndexedChunk] = []
        # Each document's first chunk (the entries come in document order): its introduction.
        self.openings: dict[int, IndexedChunk] = {}
        # Where each document's opening is in self.chunks: its next chunks follow it.
        self.opening_positions: dict[int, int] = {}
        lengths: list[int] = []
        # First pass: raw term frequencies. BM25 needs the average length, known
        # only at the end, to turn them into the parts stored in the postings.
        raw: dict[str, tuple[list[int], list[int], list[float]]] = defaultdict(lambda: ([], [], []))
        for position, (chunk, title_terms, text_terms) in enumerate(entries):
            counts = Counter(text_terms)
            for term in title_terms:
                counts[term] += TITLE_WEIGHT
            in_title = set(title_terms)
            for term, tf in counts.items():
                positions, frequencies, factors = raw[term]
                positions.append(position)
                frequencies.append(tf)
                factors.append(1.0 if term in in_title else BODY_ONLY_COVERAGE)
            self.chunks.append(chunk)
            self.openings.setdefault(chunk.document_id, chunk)
            self.opening_positions.setdefault(chunk.document_id, position)
            lengths.append(len(text_terms) + TITLE_WEIGHT * len(title_terms))
        self.size = len(self.chunks)
        average = (sum(lengths) / self.size) if self.size else 1.0
        norms = [K1 * (1 - B + B * length / average) for length in lengths]
        self.postings: dict[str, _Postings] = {}
        for term, (positions, frequencies, factors) in raw.items():
            tf_parts = [tf * (K1 + 1) / (tf + norms[p]) for p, tf in zip(positions, frequencies, strict=True)]
            self.postings[term] = _Postings(array("I", positions), array("f", tf_parts), array("f", factors))
        self.idf = {term: self._idf(len(postings.positions)) for term, postings in self.postings.items()}
        self.unseen_idf = self._idf(0)
        self._deletions = _deletion_table(self.postings)

    @classmethod
    def from_chunks(cls, chunks: Iterable[IndexedChunk]) -> BM25Index:
        """Build, tokenizing every chunk now (slow for a big Chinese corpus: see stored_terms)."""
        return cls((chunk, tokenize(chunk.title), tokenize(chunk.text)) for chunk in chunks)

    def search(self, query: str, *, k: int, language: str | None = None) -> list[Hit]:
        """The best chunks for the query, best first; at most one per document.

        Only chunks in `language` (or of unknown language) take part when it is given.
        """
        terms = self._query_terms(query)
        total = sum(term.weight_in_coverage for term in terms)
        if not total:
            return []
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, float] = defaultdict(float)
        titled: dict[int, float] = defaultdict(float)
        words: dict[int, int] = defaultdict(int)
        for term in terms:
            score_weight = term.weight * term.idf
            evidence = term.evidence * term.idf
            postings = self.postings.get(term.term)
            if postings is None:  # a word no chunk has
                continue
            rows = zip(postings.positions, postings.tf_parts, postings.coverage_factors, strict=True)
            for position, tf_part, factor in rows:
                scores[position] += score_weight * tf_part
                matched[position] += evidence * factor
                words[position] += 1
                if factor == 1.0:
                    titled[position] += evidence
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        hits: list[Hit] = []
        seen_documents: set[int] = set()
        for position, score in ranked:
            chunk = self.chunks[position]
            if language and chunk.language not in (language, ""):
                continue
            if chunk.document_id in seen_documents:
                continue
            seen_documents.add(chunk.document_id)
            coverage, title_coverage = matched[position] / total, titled[position] / total
            hits.append(Hit(chunk, score, coverage, title_coverage, words[position], position))
            if len(hits) == k:
                break
        return hits

    def term_weights(self, query: str) -> dict[str, float]:
        """What each of the query's terms adds to a passage that holds it (its idf, less for a
        misspelt word); a word the knowledge base never uses adds nothing."""
        return {term.term: term.idf * term.weight for term in self._query_terms(query) if term.weight}

    def _query_terms(self, query: str) -> list[_QueryTerm]:
        out: list[_QueryTerm] = []
        seen: set[str] = set()
        for term in tokenize(in_the_help_centers_words(query)):
            if term in seen:
                continue
            seen.add(term)
            if term in self.idf:
                out.append(_QueryTerm(term, self.idf[term], 1.0, 1.0, self.idf[term]))
                continue
            corrected = self._correct(term)
            if corrected and corrected not in seen:
                seen.add(corrected)
                idf = self.idf[corrected]
                out.append(_QueryTerm(corrected, idf, FUZZY_WEIGHT, FUZZY_EVIDENCE, idf))
            elif not term.isdigit():  # an amount or a date the articles don't mention says nothing
                out.append(_QueryTerm(term, self.unseen_idf, 0.0, 0.0, UNSEEN_WEIGHT * self.unseen_idf))
        return out

    def _correct(self, term: str) -> str | None:
        """The most common known word one edit away from an unknown English word."""
        if len(term) < FUZZY_MIN_LENGTH or not term.isascii() or not term.isalpha():
            return None
        candidates = set(self._deletions.get(term, ()))
        for variant in _deletions(term):
            if variant in self.idf:
                candidates.add(variant)
            candidates.update(word for word in self._deletions.get(variant, ()) if _one_edit(term, word))
        if not candidates:
            return None
        return min(candidates, key=lambda word: (self.idf[word], word))

    def _idf(self, document_frequency: int) -> float:
        return math.log(1 + (self.size - document_frequency + 0.5) / (document_frequency + 0.5))


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Two words of one length that differ in one letter, or by two neighbours swapped."""
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and (a[diff[0]], a[diff[1]]) == (b[diff[1]], b[diff[0]])


def _deletion_table(postings: dict[str, list]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for term in postings:
        if len(term) >= FUZZY_MIN_LENGTH - 1 and term.isascii() and term.isalpha():
            for variant in _deletions(term):
                table[variant].append(term)
    return dict(table)


# --- The process's index ----------------------------------------------------------

_build_lock = threading.Lock()
_index: BM25Index | None = None
_version: tuple | None = None
_checked_at = -math.inf
# Bumped by invalidate(): a check that started before the bump must not count.
_generation = 0


def get_index() -> BM25Index:
    """The current index, rebuilt if the knowledge base changed. Sync: uses the ORM."""
    global _index, _version, _checked_at
    index = _index
    if index is not None and time.monotonic() - _checked_at < CHECK_SECONDS:
        return index
    # One thread checks and rebuilds; the others keep using the previous index.
    if not _build_lock.acquire(blocking=index is None):
        return index
    try:
        if _index is not None and time.monotonic() - _checked_at < CHECK_SECONDS:
            return _index
        generation = _generation
        version = _database_version()
        if _index is None or version != _version:
            started = time.perf_counter()
            _index = BM25Index(_chunks_from_database())
            logger.info("knowledge index built: %d chunks in %.2fs", _index.size, time.perf_counter() - started)
            _version = version
        if generation == _generation:
            _checked_at = time.monotonic()
        return _index
    finally:
        _build_lock.release()


def invalidate() -> None:
    """Make the next search check the database for changes (the import service calls it)."""
    global _checked_at, _generation
    _generation += 1
    _checked_at = -math.inf


def _database_version() -> tuple:
    from django.db.models import Count, Max

    from agents.models import KnowledgeChunk, KnowledgeDocument

    documents = KnowledgeDocument.objects.filter(index_status=KnowledgeDocument.IndexStatus.READY)
    doc_stats = documents.aggregate(count=Count("id"), last_id=Max("id"), last_update=Max("updated_at"))
    chunk_stats = KnowledgeChunk.objects.aggregate(count=Count("id"), last_id=Max("id"))
    return tuple(doc_stats.values()) + tuple(chunk_stats.values())


def _chunks_from_database() -> Iterable[tuple[IndexedChunk, Sequence[str], Sequence[str]]]:
    from agents.models import KnowledgeChunk, KnowledgeDocument

    rows = (
        KnowledgeChunk.objects.filter(document__index_status=KnowledgeDocument.IndexStatus.READY)
        .order_by("document_id", "ordinal")
        .values_list("id", "document_id", "document__title", "text", "document__language", "terms")
    )
    stale = 0
    for chunk_id, document_id, title, text, language, terms in rows.iterator(chunk_size=2000):
        chunk = IndexedChunk(chunk_id, document_id, title, text, language)
        if terms.get("version") == TOKENIZER_VERSION:
            yield chunk, terms["title"], terms["text"]
        else:
            stale += 1
            yield chunk, tokenize(title), tokenize(text)
    if stale:
        logger.warning("%d knowledge chunks had no stored terms; import them again to store them", stale)
