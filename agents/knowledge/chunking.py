"""Splitting a document into passages of a few hundred characters.

A chunk ends on a paragraph boundary where it can, else on a line (a list item)
or sentence boundary (Chinese 。！？ or English . ! ?), and only as a last resort
mid-sentence. A chunk is a passage the player may be shown from its start, so it
reads from a sensible place: a heading, and a lead-in such as "Please include:",
stay with the text after them; a chunk that starts inside a section (the rest of
a list, say) starts with a copy of the section's heading; and none starts in the
middle of a sentence unless the sentence alone is longer than 1.5 chunks.

The document's title is not repeated in a chunk's text: the model already sees
it as the passage title. Retrieval keeps the title's terms with every chunk
instead (KnowledgeChunk.terms), so that a chunk from the middle of "Recharge not
received" still matches "recharge".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Bump when the way chunks are cut changes: the next import then re-chunks everything.
CHUNKING_VERSION = 2
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
    # The heading of the section it is in ("" before the first heading).
    heading: str = ""
    # The rest of a sentence longer than max_chars, cut at a comma.
    mid_sentence: bool = False
    # A copy of a heading at the start of a chunk, for context.
    repeated: bool = False


def split_into_chunks(body: str, *, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[str]:
    """Return the body's chunks in order; an empty body gives no chunks."""
    pieces = _pieces(body.replace("\r\n", "\n").replace("\r", "\n"), max_chars)
    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in pieces:
        longer = _length(current + [piece])
        # A short chunk (an introduction, a heading) takes the next piece even past
        # max_chars: a passage that only states the problem answers nothing.
        full = bool(current) and longer > max_chars and _length(current) >= min_chars
        overfull = bool(current) and longer > max_chars * 3 // 2
        if overfull or (full and not piece.mid_sentence):
            carried = _carry_intro(current)
            chunks.append(current)
            current = _context_for((carried or [piece])[0]) + carried
        current.append(piece)
    if current:
        unrepeated = [piece for piece in current if not piece.repeated]
        if chunks and _length(current) < min_chars and _length(chunks[-1] + unrepeated) <= max_chars * 6 // 5:
            chunks[-1].extend(unrepeated)
        else:
            chunks.append(current)
    return [_join(chunk) for chunk in chunks]


def _pieces(text: str, max_chars: int) -> list[_Piece]:
    """Paragraphs that fit; else their lines (list items); else a line's sentences."""
    pieces: list[_Piece] = []
    heading = ""
    for paragraph in _BLANK_LINE.split(text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if _HEADING.match(paragraph):
            heading = paragraph.split("\n")[0]
        if len(paragraph) <= max_chars:
            pieces.append(_Piece(paragraph, "\n\n", heading))
            continue
        sep = "\n\n"
        for line in paragraph.split("\n"):
            line = line.strip()
            if _HEADING.match(line):
                heading = line
            if len(line) <= max_chars:
                pieces.append(_Piece(line, sep, heading))
                sep = "\n"
                continue
            for sentence in _SENTENCE_END.split(line):
                for n, part in enumerate(_hard_split(sentence.strip(), max_chars)):
                    pieces.append(_Piece(part, sep, heading, mid_sentence=n > 0))
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


def _carry_intro(chunk: list[_Piece]) -> list[_Piece]:
    """What introduces the text after a full chunk moves on with it: a last heading, a
    last lead-in ("Contact support with:") and the heading before it. Pops them off `chunk`."""
    carried: list[_Piece] = []
    while len(chunk) > 1 and (_HEADING.match(chunk[-1].text) or chunk[-1].text.endswith((":", "："))):
        carried.insert(0, chunk.pop())
    return carried


def _context_for(first: _Piece) -> list[_Piece]:
    """A chunk starting inside a section (a list's later items) starts with the section's heading."""
    if first.heading and not first.text.startswith(first.heading):
        return [_Piece(first.heading, "\n\n", first.heading, repeated=True)]
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
