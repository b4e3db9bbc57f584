"""Importing knowledge files: agents/knowledge/importing.py and `manage.py kb_import`."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command, load_command_class
from openpyxl import Workbook

from agents.knowledge.chunking import MAX_CHARS, split_into_chunks
from agents.knowledge.importing import KnowledgeImportError, import_paths
from agents.knowledge.retrieval import search
from agents.knowledge.tokenize import TOKENIZER_VERSION
from agents.models import KnowledgeChunk, KnowledgeDocument

DEMO_KB = Path(settings.BASE_DIR) / "agents" / "demo_kb"

RECHARGE_MD = """# Recharge not received

Most top-ups arrive within 5 minutes. Restart the game and check your mailbox.
"""


def write_csv(path: Path, rows: list[tuple[str, str]], *, bom: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["question", "answer"])
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig" if bom else "utf-8")
    return path


def write_xlsx(path: Path, rows: list[tuple[str, str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Question", "Answer"])
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write_pdf(path: Path, pages: list[str], *, title: str) -> Path:
    """A minimal PDF with one line of Helvetica text per page."""
    first_page = 4
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(pages))), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for n, text in enumerate(pages):
        content = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text.encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (first_page + 2 * n + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Title (%s) >>" % title.encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    out += trailer % (len(objects) + 1, len(objects), xref)
    path.write_bytes(bytes(out))
    return path


@pytest.mark.django_db
def test_a_markdown_file_takes_its_title_from_the_first_heading(tmp_path):
    path = tmp_path / "recharge.en.md"
    path.write_text(RECHARGE_MD, encoding="utf-8")

    report = import_paths([path])

    document = KnowledgeDocument.objects.get()
    assert document.title == "Recharge not received"
    assert document.body == "Most top-ups arrive within 5 minutes. Restart the game and check your mailbox."
    assert document.source_key == str(path.resolve())
    assert document.language == "en"
    assert document.index_status == KnowledgeDocument.IndexStatus.READY
    assert document.indexed_at is not None
    assert [chunk.text for chunk in document.chunks.all()] == [document.body]
    assert report.created == 1


@pytest.mark.django_db
def test_a_text_file_takes_its_title_from_the_file_name(tmp_path):
    path = tmp_path / "封号申诉.txt"
    path.write_text("账号被封后可以在 30 天内申诉。", encoding="utf-8")

    import_paths([path])

    document = KnowledgeDocument.objects.get()
    assert document.title == "封号申诉"
    assert document.language == "zh-hans"


@pytest.mark.django_db
def test_each_csv_row_becomes_a_document_titled_by_its_question(tmp_path):
    path = write_csv(
        tmp_path / "faq.csv",
        [("怎么改名？", "使用改名卡。"), ("How do I add friends?", "Open Social, then Friends.")],
        bom=True,
    )

    report = import_paths([path])

    documents = list(KnowledgeDocument.objects.order_by("source_key"))
    key = str(path.resolve())
    assert [(d.source_key, d.title, d.body, d.language) for d in documents] == [
        (f"{key}#row-2", "怎么改名？", "怎么改名？\n\n使用改名卡。", "zh-hans"),
        (f"{key}#row-3", "How do I add friends?", "How do I add friends?\n\nOpen Social, then Friends.", "en"),
    ]
    assert (report.created, report.files[0].created) == (2, 2)


@pytest.mark.django_db
def test_each_xlsx_row_becomes_a_document(tmp_path):
    path = write_xlsx(tmp_path / "faq.xlsx", [("Can I transfer servers?", "Yes, once every 90 days."), (None, None)])

    import_paths([path])

    document = KnowledgeDocument.objects.get()
    assert document.source_key == f"{path.resolve()}#row-2"
    assert document.title == "Can I transfer servers?"
    assert document.body == "Can I transfer servers?\n\nYes, once every 90 days."


@pytest.mark.django_db
def test_a_pdf_becomes_one_document_with_the_text_of_all_its_pages(tmp_path):
    pages = ["Refunds take 5 to 10 business days.", "Keep your order number."]
    path = write_pdf(tmp_path / "refunds.pdf", pages, title="Refund policy")

    import_paths([path])

    document = KnowledgeDocument.objects.get()
    assert document.title == "Refund policy"
    assert document.body == "Refunds take 5 to 10 business days.\n\nKeep your order number."
    assert document.source_key == str(path.resolve())


@pytest.mark.django_db
def test_importing_a_file_again_updates_its_document_instead_of_adding_one(tmp_path):
    path = tmp_path / "recharge.en.md"
    path.write_text(RECHARGE_MD, encoding="utf-8")
    import_paths([path])
    first = KnowledgeDocument.objects.get()

    path.write_text(RECHARGE_MD.replace("5 minutes", "10 minutes"), encoding="utf-8")
    report = import_paths([path])

    document = KnowledgeDocument.objects.get()
    assert document.pk == first.pk
    assert "10 minutes" in document.body
    assert document.checksum != first.checksum
    assert [chunk.text for chunk in KnowledgeChunk.objects.all()] == [document.body]
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)


@pytest.mark.django_db
def test_an_unchanged_file_keeps_its_chunks(tmp_path):
    path = tmp_path / "recharge.en.md"
    path.write_text(RECHARGE_MD, encoding="utf-8")
    import_paths([path])
    chunk_ids = list(KnowledgeChunk.objects.values_list("id", flat=True))

    report = import_paths([path])

    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert list(KnowledgeChunk.objects.values_list("id", flat=True)) == chunk_ids


@pytest.mark.django_db
def test_a_row_removed_from_the_csv_is_deleted(tmp_path):
    rows = [("Q one?", "A one."), ("Q two?", "A two."), ("Q three?", "A three.")]
    path = write_csv(tmp_path / "faq.csv", rows)
    import_paths([path])

    write_csv(path, rows[:2])
    report = import_paths([path])

    assert list(KnowledgeDocument.objects.order_by("title").values_list("title", flat=True)) == ["Q one?", "Q two?"]
    assert (report.unchanged, report.deleted) == (2, 1)


@pytest.mark.django_db
def test_chunks_store_their_terms_for_the_index(tmp_path):
    path = tmp_path / "recharge.en.md"
    path.write_text(RECHARGE_MD, encoding="utf-8")

    import_paths([path])

    terms = KnowledgeChunk.objects.get().terms
    assert terms["version"] == TOKENIZER_VERSION
    assert terms["title"] == ["recharg", "receiv"]
    assert "mailbox" in terms["text"]


def test_an_unsupported_file_type_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK")

    with pytest.raises(KnowledgeImportError, match=r"notes\.docx: unsupported file type '\.docx'"):
        import_paths([path])


def test_a_csv_without_question_and_answer_columns_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("q,a\nHi?,Hello.\n", encoding="utf-8")

    with pytest.raises(KnowledgeImportError, match=r"faq\.csv: missing column\(s\) question, answer"):
        import_paths([path])


@pytest.mark.django_db
def test_a_bad_file_imports_nothing_at_all(tmp_path):
    good = tmp_path / "recharge.en.md"
    good.write_text(RECHARGE_MD, encoding="utf-8")
    bad = tmp_path / "faq.csv"
    bad.write_bytes("question,answer\n改名？,改名卡\n".encode("gbk"))

    with pytest.raises(KnowledgeImportError, match="faq.csv: the file is not UTF-8"):
        import_paths([good, bad])

    assert not KnowledgeDocument.objects.exists()


def test_long_text_is_split_into_chunks_on_sentence_boundaries():
    body = "\n\n".join(f"第{n}段：充值一般在五分钟内到账。如果没有到账，请重新登录并查看邮箱。" * 6 for n in range(6))

    chunks = split_into_chunks(body)

    assert len(chunks) > 1
    assert all(len(chunk) <= MAX_CHARS * 3 // 2 for chunk in chunks)
    assert all(chunk.endswith("。") for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == body.replace("\n", "")


WHAT_TO_SEND = """An item is gone from your bag. Most lost items are somewhere else in the game; this article
says where to look and what to send us. Read it through before you contact support, please: most
players find their item in the mailbox, the warehouse or the auction house within minutes.

## What we cannot restore

- items you traded to another player yourself, including trades that turned out to be scams;
- consumables you used, and items lost more than 90 days ago.

## What to send

Contact support (Settings → Help Center → Contact Support) with:

- UID, server and character name;
- the item's name and enhancement level;
- roughly when it was lost (within an hour if you can);
- what you were doing: upgrading, trading, salvaging, logging in after maintenance;
- screenshots if you have them, and the name of anyone you traded with that day;
- the server time shown at the top of the screen when you noticed;
- whether other items went missing at the same time.
"""


def test_the_rest_of_a_split_list_starts_with_its_sections_heading():
    chunks = split_into_chunks(WHAT_TO_SEND, max_chars=300, min_chars=150)

    rest = [chunk for chunk in chunks if "- whether other items" in chunk and "- UID" not in chunk]
    assert rest and rest[0].startswith("## What to send\n")


def test_a_chunk_starts_at_a_sentence_not_in_the_rest_of_one_cut_at_a_comma():
    intro = "Intro: " + "a line about the rules of the event. " * 9
    sentence = "When you contact support, " + ", ".join(f"mention detail number {n}" for n in range(24)) + "."

    chunks = split_into_chunks(f"{intro}\n\n{sentence}")

    assert len(sentence) > MAX_CHARS and len(chunks) == 2
    assert [chunk[:5] for chunk in chunks] == ["Intro", "When "]


@pytest.mark.parametrize("path", sorted(DEMO_KB.glob("*.md")), ids=lambda path: path.name)
def test_every_demo_chunk_starts_where_a_reader_can_start(path):
    """A chunk is a passage the player may be shown from its first line."""
    body = path.read_text(encoding="utf-8").split("\n", 1)[1]  # the title line is the document's title

    for chunk in split_into_chunks(body):
        first, last = chunk.split("\n")[0], chunk.rstrip().split("\n")[-1]
        assert not re.match(r"(?:[-*+]|\d+[.)])\s", first), chunk  # a list item without its heading
        assert not last.endswith((":", "：")) and not last.startswith("#"), chunk


@pytest.mark.django_db
def test_the_command_prints_counts_for_each_file(tmp_path):
    md = tmp_path / "recharge.en.md"
    md.write_text(RECHARGE_MD, encoding="utf-8")
    faq = write_csv(tmp_path / "faq.csv", [("Q one?", "A one."), ("Q two?", "A two.")])
    import_paths([md])
    out = io.StringIO()

    call_command("kb_import", str(md), str(faq), stdout=out)

    assert out.getvalue().splitlines() == [
        f"{md.resolve()}: 0 created, 0 updated, 1 unchanged, 0 deleted",
        f"{faq.resolve()}: 2 created, 0 updated, 0 unchanged, 0 deleted",
        "total: 2 created, 0 updated, 1 unchanged, 0 deleted",
    ]


@pytest.mark.django_db
def test_the_command_leaves_the_documents_searchable_without_a_worker(tmp_path, settings):
    """In production (Celery not eager) README runs kb_import before any worker starts: the
    documents stayed pending, found by no question, until a worker indexed them."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    md = tmp_path / "recharge.en.md"
    md.write_text(RECHARGE_MD, encoding="utf-8")

    call_command("kb_import", str(md), stdout=io.StringIO())

    assert KnowledgeDocument.objects.get().index_status == "ready"
    assert [p.title for p in search("my top-up has not arrived", language="en")] == ["Recharge not received"]


def test_the_command_exits_non_zero_with_a_one_line_error_on_bad_input(tmp_path, capsys):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK")
    command = load_command_class("agents", "kb_import")

    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["manage.py", "kb_import", str(path)])

    # run_from_argv closes the database connections: this test must not use one.
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("CommandError: ") and "notes.docx" in error
