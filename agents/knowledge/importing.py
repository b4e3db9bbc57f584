"""Importing knowledge files into KnowledgeDocument and KnowledgeChunk rows.

Supported files:
- .md / .txt: one document per file. The title is the first Markdown heading,
  else the file name.
- .csv (UTF-8, with or without BOM) and .xlsx (first sheet): a header row with
  `question` and `answer` columns, one document per row (title = question,
  body = question + answer).
- .pdf: one document with the text of all pages.

Every file is read and checked before anything is written, and the writes happen
in one transaction: a bad file imports nothing. Importing a file again updates
its documents in place (matched by source_key), re-indexes them only when the
text changed, and deletes the documents of spreadsheet rows that are gone.
Chunks and index terms are written by the indexing task (agents/knowledge/tasks.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from agents.knowledge import index
from agents.knowledge.chunking import CHUNKING_VERSION
from agents.knowledge.language import detect_language
from agents.knowledge.tasks import index_later
from agents.knowledge.tokenize import TOKENIZER_VERSION
from agents.models import KnowledgeDocument

SUPPORTED_SUFFIXES = (".md", ".txt", ".csv", ".xlsx", ".pdf")
_TITLE_MAX = KnowledgeDocument._meta.get_field("title").max_length


class KnowledgeImportError(Exception):
    """A file cannot be imported; the message names the file and says why."""


@dataclass(frozen=True)
class Entry:
    """One document as read from a file, before it is stored."""

    source_key: str
    title: str
    body: str

    @property
    def checksum(self) -> str:
        # The chunking and tokenizer versions are part of it, so that a new way
        # of cutting or tokenizing rewrites the chunks on the next import.
        versions = f"{CHUNKING_VERSION}.{TOKENIZER_VERSION}"
        return hashlib.sha256(f"{versions}\n{self.title}\n\n{self.body}".encode()).hexdigest()


@dataclass
class FileReport:
    path: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    # Documents created or changed: their chunks are (re)built by the indexing task.
    to_index: list[int] = field(default_factory=list)


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(f.created for f in self.files)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.files)

    @property
    def unchanged(self) -> int:
        return sum(f.unchanged for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f.deleted for f in self.files)


def import_paths(paths: Iterable[str | Path], *, index_now: bool = False) -> ImportReport:
    """Import files (a directory stands for its supported files, sorted by name), indexed
    by a worker, or by the caller with `index_now` (agents/knowledge/tasks.py: index_later).

    Raises KnowledgeImportError, before writing anything, if a file is missing,
    of an unsupported type, or lacks the expected content.
    """
    files = _expand(paths)
    parsed = [(path, read_entries(path)) for path in files]
    report = ImportReport()
    with transaction.atomic():
        for path, entries in parsed:
            report.files.append(_store(path, entries))
        index_later([pk for file in report.files for pk in file.to_index], now=index_now)
        transaction.on_commit(index.invalidate)
    # Also now: inside an outer transaction (tests, admin actions) on_commit waits,
    # but searches in this thread already see the new rows.
    index.invalidate()
    return report


def read_entries(path: Path) -> list[Entry]:
    """The documents in one file; raises KnowledgeImportError naming the file."""
    readers = {".md": _read_text, ".txt": _read_text, ".csv": _read_csv, ".xlsx": _read_xlsx, ".pdf": _read_pdf}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        expected = ", ".join(SUPPORTED_SUFFIXES)
        raise KnowledgeImportError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; expected {expected}")
    try:
        return reader(path)
    except KnowledgeImportError:
        raise
    except Exception as exc:  # a corrupt file: say which one
        raise KnowledgeImportError(f"{path}: cannot read file: {exc}") from exc


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise KnowledgeImportError(f"{raw}: no such file")
    return list(dict.fromkeys(files))


# --- Readers ----------------------------------------------------------------------


def _read_text(path: Path) -> list[Entry]:
    text = _decode(path, path.read_bytes()).strip()
    if not text:
        raise KnowledgeImportError(f"{path}: the file is empty")
    title = path.stem
    lines = text.splitlines()
    if path.suffix.lower() == ".md":
        for number, line in enumerate(lines):
            if line.startswith("#") and line.lstrip("#").startswith(" ") and line.strip("# "):
                title = line.strip("# \t")
                # The title is the passage title already; keep the body from repeating it.
                text = "\n".join(lines[:number] + lines[number + 1 :]).strip()
                break
    return [Entry(str(path), title[:_TITLE_MAX], text)]


def _read_csv(path: Path) -> list[Entry]:
    rows = csv.reader(io.StringIO(_decode(path, path.read_bytes()), newline=""))
    return _entries_from_rows(path, rows)


def _read_xlsx(path: Path) -> list[Entry]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        return _entries_from_rows(path, ([("" if cell is None else str(cell)) for cell in row] for row in rows))
    finally:
        workbook.close()


def _read_pdf(path: Path) -> list[Entry]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()
    if not text:
        raise KnowledgeImportError(f"{path}: the PDF has no text to extract (is it a scan?)")
    title = ((reader.metadata.title if reader.metadata else None) or path.stem).strip()
    return [Entry(str(path), title[:_TITLE_MAX], text)]


def _entries_from_rows(path: Path, rows: Iterable[list[str]]) -> list[Entry]:
    rows = iter(rows)
    header = [cell.strip().lower() for cell in next(rows, [])]
    missing = [column for column in ("question", "answer") if column not in header]
    if missing:
        raise KnowledgeImportError(
            f"{path}: missing column(s) {', '.join(missing)}; the first row must name the columns question,answer"
        )
    q_col, a_col = header.index("question"), header.index("answer")
    entries = []
    # Row numbers are the spreadsheet's own (the header is row 1), so that an
    # error or a source_key points at the row an editor sees.
    for number, row in enumerate(rows, start=2):
        question = row[q_col].strip() if q_col < len(row) else ""
        answer = row[a_col].strip() if a_col < len(row) else ""
        if not question and not answer:
            continue
        if not question or not answer:
            raise KnowledgeImportError(f"{path}: row {number} has a question without an answer or the reverse")
        entries.append(Entry(f"{path}#row-{number}", question[:_TITLE_MAX], f"{question}\n\n{answer}"))
    return entries


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KnowledgeImportError(f"{path}: the file is not UTF-8 encoded; save it as UTF-8") from None


# --- Storing ----------------------------------------------------------------------


def _store(path: Path, entries: list[Entry]) -> FileReport:
    """Make the file's documents match its entries. Call inside a transaction."""
    report = FileReport(str(path))
    key = str(path)
    existing = {
        doc.source_key: doc
        for doc in KnowledgeDocument.objects.filter(Q(source_key=key) | Q(source_key__startswith=f"{key}#row-"))
    }
    for entry in entries:
        document = existing.pop(entry.source_key, None)
        if document is None:
            document = KnowledgeDocument(source_key=entry.source_key)
            report.created += 1
        elif document.checksum == entry.checksum and document.index_status == KnowledgeDocument.IndexStatus.READY:
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        document.title = entry.title
        document.body = entry.body
        document.language = detect_language(entry.body)
        document.checksum = entry.checksum
        # Chunked and indexed by a Celery task (agents/knowledge/indexing.py); the admin shows progress.
        document.index_status = KnowledgeDocument.IndexStatus.PENDING
        document.save()
        report.to_index.append(document.pk)
    # Rows that left the spreadsheet, or a file that now has no entries.
    if existing:
        KnowledgeDocument.objects.filter(pk__in=[doc.pk for doc in existing.values()]).delete()
        report.deleted = len(existing)
    return report
