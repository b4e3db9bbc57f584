"""Splitting a document into passages of a few hundred characters.

A chunk ends on a paragraph boundary where it can, else on a line (a list item)
or sentence boundary (Chinese 。！？ or English . ! ?), and only as a last resort
mid-sentence. A heading stays with the text after it.

The document's title is not repeated in a chunk's text: the model already sees
it as the passage title. Retrieval keeps the title's terms with every chunk
instead (KnowledgeChunk.terms), so that a chunk from the middle of "Recharge not
received" still matches "recharge".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bump when the way chunks are cut changes: the next import then re-chunks everything.
CHUNKING_VERSION = 1
MAX_CHARS = 500
# A chunk shorter than this grows past MAX_CHARS (up to 1.5 times) rather than
# stand alone; a last chunk this short joins the one before if that stays near MAX_CHARS.
MIN_CHARS = 300

_BLANK_LINE = re.compile(r"\n\s*\n")
# "3. Open the mailbox" is a list item, not the end of a sentence.
_SENTENCE_END = re.compile(r"(?<=[。！？；])|(?<=[^\d\s][.!?;])\s+")
_SOFT_BREAK = re.compile(r"[，,、：:；;]\s*")
_HEADING = re.compile(r"^#{1,6}\s")


@dataclass(frozen=True)
class _Piece:
    text: str
    # What joins it to the piece before: a blank line, a line break, or nothing
    # (sentences of one line; a space is added between English ones).
    sep: str


def split_into_chunks(body: str, *, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[str]:
    """Return the body's chunks in order; an empty body gives no chunks."""
    pieces = _pieces(body.replace("\r\n", "\n").replace("\r", "\n"), max_chars)
    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in pieces:
        longer = _length(current + [piece])
        # A short chunk (an introduction, a heading) takes the next piece even past
        # max_chars: a passage that only states the problem answers nothing.
        if current and longer > max_chars and (_length(current) >= min_chars or longer > max_chars * 3 // 2):
            carried = _carry_heading(current)
            chunks.append(current)
            current = carried
        current.append(piece)
    if current:
        if chunks and _length(current) < min_chars and _length(chunks[-1] + current) <= max_chars * 6 // 5:
            chunks[-1].extend(current)
        else:
            chunks.append(current)
    return [_join(chunk) for chunk in chunks]


def _pieces(text: str, max_chars: int) -> list[_Piece]:
    """Paragraphs that fit; else their lines (list items); else a line's sentences."""
    pieces: list[_Piece] = []
    for paragraph in _BLANK_LINE.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(_Piece(paragraph, "\n\n"))
            continue
        sep = "\n\n"
        for line in paragraph.split("\n"):
            line = line.strip()
            if len(line) <= max_chars:
                pieces.append(_Piece(line, sep))
                sep = "\n"
                continue
            for sentence in _SENTENCE_END.split(line):
                for part in _hard_split(sentence.strip(), max_chars):
                    pieces.append(_Piece(part, sep))
                    sep = ""
            sep = "\n"
    return [piece for piece in pieces if piece.text]


def _hard_split(sentence: str, max_chars: int) -> list[str]:
    """Split a sentence longer than max_chars, at a comma when there is one."""
    parts: list[str] = []
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() > max_chars // 2]
        cut = breaks[-1] if breaks else max_chars
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    if sentence:
        parts.append(sentence)
    return parts


def _carry_heading(chunk: list[_Piece]) -> list[_Piece]:
    """A heading belongs with the text after it: move a chunk's last heading on."""
    if len(chunk) > 1 and _HEADING.match(chunk[-1].text):
        return [chunk.pop()]
    return []


def _join(chunk: list[_Piece]) -> str:
    out = chunk[0].text
    for piece in chunk[1:]:
        sep = piece.sep or ("" if _is_cjk(out[-1]) else " ")
        out += sep + piece.text
    return out


def _length(chunk: list[_Piece]) -> int:
    return sum(len(piece.text) + len(piece.sep) for piece in chunk[1:]) + len(chunk[0].text)


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"
