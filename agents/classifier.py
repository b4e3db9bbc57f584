"""The offline intent classifier: TF-IDF over character and word n-grams, nearest centroid.

Trained on the example phrases of the intents in the admin (agents.models.Intent).
Chinese is read as character unigrams and bigrams (no segmentation needed for
short chat lines); English as stemmed words, word bigrams and character 4-grams
inside words (so "refnd" still shares most of "refund"). Each intent's examples
become one normalised centroid; a message is scored by cosine similarity to
every centroid, blended with its similarity to the single closest example (a
rare phrasing that one example covers still counts). Scoring walks an inverted
index (gram -> the examples and centroids that have it), so a message costs the
postings of its own grams, not a dot product with every example.

The model is tiny (a few hundred examples, trained in milliseconds); the
process's copy is rebuilt with the intents (agents/catalogue.py).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

from agents.knowledge.phrasing import same_thing

# Below this a message is not clearly about any intent: the bot offers choices.
MIN_CONFIDENCE = 0.15
# A message whose best two intents are this close is ambiguous.
MIN_MARGIN = 0.04
CENTROID_WEIGHT = 0.5

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_EN_SUFFIXES = ("ing", "ed", "es", "s")
_EN_STOPWORDS = frozenset(
    """a an the i i'm im my me to of is it in on for and or do does did be am are was can you there this that
    what how with please pls hi hello hey so just were been has have had got get""".split()
)
# Characters too common in chat to say anything about the intent on their own.
_ZH_STOPCHARS = frozenset("的了吗我你是在有么呢啊吧一个这那什怎")
# Character 4-grams only catch typos: they count for less than whole words.
CHAR_GRAM_WEIGHT = 0.5


def features(text: str) -> Counter:
    """The n-grams of a message, with counts."""
    # "my account was stolen" and "号被人偷了" meet the examples' "hacked" and "被盗", as in a search.
    text = same_thing(unicodedata.normalize("NFKC", text)).lower()
    grams: Counter = Counter()
    for run in _CJK_RUN.findall(text):
        grams.update(ch for ch in run if ch not in _ZH_STOPCHARS)
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    words = [_stem(w) for w in _WORD.findall(text) if w not in _EN_STOPWORDS]
    grams.update(f"w:{w}" for w in words)
    grams.update(f"b:{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    for word in words:
        padded = f"<{word}>"
        if len(padded) > 4:
            for i in range(len(padded) - 3):
                grams[f"c:{padded[i : i + 4]}"] += CHAR_GRAM_WEIGHT
    return grams


def _stem(word: str) -> str:
    for suffix in _EN_SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Guess:
    intent: str
    score: float


@dataclass(frozen=True)
class Classification:
    """The ranked intents for one message; `intent` is "" when none is clear."""

    ranked: list[Guess]
    intent: str
    confidence: float

    def without(self, names: set[str]) -> Classification:
        """The same ranking with these intents left out, and which of the rest is clear."""
        return _decide([guess for guess in self.ranked if guess.intent not in names])


class IntentClassifier:
    def __init__(self, examples: dict[str, list[str]]) -> None:
        """Train on {intent name: [example phrase, ...]}."""
        docs = [(name, features(text)) for name, texts in examples.items() for text in texts]
        frequency: Counter = Counter()
        for _, grams in docs:
            frequency.update(grams.keys())
        total = len(docs) or 1
        self.idf = {gram: math.log((1 + total) / (1 + n)) + 1 for gram, n in frequency.items()}
        self.unseen_idf = math.log(1 + total) + 1
        self.names = list(examples)
        # The intents with examples, in the order given (an intent without any is never ranked).
        self._ranked: list[str] = []
        # The examples of intent i are example indexes spans[i][0] .. spans[i][1] - 1.
        self._spans: list[tuple[int, int]] = []
        sums: list[Counter] = []
        # Inverted indexes: gram -> [(example index, weight)] and gram -> [(intent index, weight)].
        # A message is scored by walking only its own grams' postings, not every example.
        example_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, (name, grams) in enumerate(docs):
            if not self._ranked or self._ranked[-1] != name:
                self._ranked.append(name)
                self._spans.append((index, index))
                sums.append(Counter())
            start, _ = self._spans[-1]
            self._spans[-1] = (start, index + 1)
            vector = self._vector(grams)
            sums[-1].update(vector)
            for gram, weight in vector.items():
                example_postings[gram].append((index, weight))
        centroid_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for position, vector in enumerate(sums):
            for gram, weight in _normalise(dict(vector)).items():
                centroid_postings[gram].append((position, weight))
        self._example_postings = dict(example_postings)
        self._centroid_postings = dict(centroid_postings)
        self._example_count = len(docs)

    def _vector(self, grams: Counter) -> dict[str, float]:
        return _normalise({g: _damped(n) * self.idf.get(g, self.unseen_idf) for g, n in grams.items()})

    def rank(self, text: str) -> list[Guess]:
        grams = features(text)
        if not grams or not self._ranked:
            return []
        vector = self._vector(grams)
        # Cosine similarity to every example and centroid at once: only the grams the
        # message shares with them add anything (a gram no example has has no postings).
        similarity = [0.0] * self._example_count
        to_centroid = [0.0] * len(self._ranked)
        example_postings, centroid_postings = self._example_postings, self._centroid_postings
        for gram, value in vector.items():
            for index, weight in example_postings.get(gram, ()):
                similarity[index] += value * weight
            for position, weight in centroid_postings.get(gram, ()):
                to_centroid[position] += value * weight
        guesses = []
        for position, name in enumerate(self._ranked):
            start, end = self._spans[position]
            nearest = max(similarity[start:end])
            score = CENTROID_WEIGHT * to_centroid[position] + (1 - CENTROID_WEIGHT) * nearest
            guesses.append(Guess(name, round(score, 4)))
        return sorted(guesses, key=lambda g: g.score, reverse=True)

    def classify(self, text: str) -> Classification:
        return _decide(self.rank(text))


def _decide(ranked: list[Guess]) -> Classification:
    """The best guess when it is clear: confident enough, and ahead of the runner-up."""
    if not ranked:
        return Classification([], "", 0.0)
    best = ranked[0]
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    clear = best.score >= MIN_CONFIDENCE and best.score - runner_up >= MIN_MARGIN
    return Classification(ranked, best.intent if clear else "", best.score)


def _damped(count: float) -> float:
    """A repeated n-gram counts for more, but not in proportion (char grams count 0.5 each)."""
    return count if count <= 1 else 1 + math.log(count)


def _normalise(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}
