"""Hybrid retrieval: the embedding client against a local fake API over a real socket, and indexing.

The fake embeds by concept: every word of a concept ("refund", "money back",
"退款", "reimburse"…) points the same way, so a question can be near an
article it shares no word with, which BM25 alone cannot find.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

from agents.knowledge import embeddings, index, vectors
from agents.knowledge.importing import import_paths
from agents.knowledge.retrieval import search
from agents.knowledge.vectors import VectorIndex
from agents.models import KnowledgeChunk, KnowledgeDocument

DEMO_KB = Path(settings.BASE_DIR) / "agents" / "demo_kb"
CONCEPTS = [
    ["refund", "money back", "reimburse", "退款", "退钱"],
    ["password", "2fa", "hacked", "密码", "盗"],
    ["recharge", "top-up", "crystals", "充值", "到账"],
    ["ban", "banned", "appeal", "封号", "申诉"],
]
API_KEY = "test-embedding-key"
REFUND = "Refund policy and how to request a refund"


class FakeEmbeddings:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.path.startswith("/oauth/2.0/token"):
                    return self._json(200, {"access_token": "tok", "expires_in": 2592000})
                if fake.fail:
                    return self._json(500, {"error": "down"})
                if self.path.startswith("/v1/") and self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    return self._json(401, {"error": {"message": "bad key"}})
                data = [{"index": i, "embedding": embed(text)} for i, text in enumerate(body["input"])]
                return self._json(200, {"object": "list", "data": data})

            def _json(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def embed(text: str) -> list[float]:
    lowered = text.lower()
    return [float(sum(lowered.count(word) for word in words)) for words in CONCEPTS] + [0.05]


@pytest.fixture
def fake_embeddings(settings):
    fake = FakeEmbeddings()
    settings.EMBEDDING_PROVIDER = "openai"
    settings.EMBEDDING_BASE_URL = fake.url + "/v1"
    settings.EMBEDDING_API_KEY = API_KEY
    settings.EMBEDDING_MODEL = "embedding-test"
    index.invalidate()
    vectors.invalidate()
    yield fake
    fake.stop()
    index.invalidate()
    vectors.invalidate()


def test_the_client_sends_the_texts_and_reads_one_vector_each(fake_embeddings):
    got = embeddings.embed(["I want a refund", "forgot my password"])

    assert got == [[1.0, 0.0, 0.0, 0.0, 0.05], [0.0, 1.0, 0.0, 0.0, 0.05]]
    request = fake_embeddings.requests[-1]
    assert request["path"] == "/v1/embeddings"
    assert request["body"] == {"model": "embedding-test", "input": ["I want a refund", "forgot my password"]}
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_the_ernie_endpoint_is_called_with_an_access_token(fake_embeddings, settings):
    settings.EMBEDDING_PROVIDER = "ernie"
    settings.EMBEDDING_BASE_URL = fake_embeddings.url
    settings.ERNIE_API_KEY, settings.ERNIE_SECRET_KEY = "ak", "sk"
    embeddings._token = None

    assert embeddings.embed(["退款"]) == [[1.0, 0.0, 0.0, 0.0, 0.05]]
    path = "/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-test?access_token=tok"
    assert fake_embeddings.requests[-1]["path"] == path
    embeddings._token = None


def test_a_failing_api_is_an_embedding_error(fake_embeddings):
    fake_embeddings.fail = True
    with pytest.raises(embeddings.EmbeddingError, match="HTTP 500"):
        embeddings.embed(["refund"])


@pytest.mark.django_db
def test_indexing_stores_a_vector_per_chunk_and_marks_the_document_ready(fake_embeddings):
    import_paths([DEMO_KB / "refund.en.md"])

    document = KnowledgeDocument.objects.get()
    assert document.index_status == "ready" and document.indexed_at and document.index_error == ""
    chunk = KnowledgeChunk.objects.filter(document=document).first()
    assert len(embeddings.from_bytes(chunk.embedding)) == len(CONCEPTS) + 1


@pytest.mark.django_db
def test_hybrid_retrieval_finds_an_article_by_meaning_not_only_by_words(fake_embeddings, settings):
    import_paths([DEMO_KB / "refund.en.md", DEMO_KB / "account-security.en.md", DEMO_KB / "events.en.md"])
    question = "please reimburse me"

    settings.EMBEDDING_PROVIDER = ""
    assert search(question, language="en") == []  # no word in common
    settings.EMBEDDING_PROVIDER = "openai"
    found = search(question, language="en")

    assert [p.title for p in found][:1] == [REFUND]


@pytest.mark.django_db
def test_when_the_embedding_api_is_down_bm25_still_answers(fake_embeddings):
    import_paths([DEMO_KB / "refund.en.md"])
    fake_embeddings.fail = True

    assert [p.title for p in search("i want a refund", language="en")] == [REFUND]


@pytest.mark.django_db
def test_a_document_indexed_while_the_api_was_down_is_still_searchable_by_its_words(fake_embeddings):
    fake_embeddings.fail = True
    import_paths([DEMO_KB / "refund.en.md"])

    document = KnowledgeDocument.objects.get()
    assert document.index_status == "ready" and "embeddings" in document.index_error
    fake_embeddings.fail = False
    assert [p.title for p in search("refund", language="en")] == [REFUND]


def test_a_vector_query_over_ten_thousand_chunks_takes_milliseconds():
    rng = random.Random(3)
    chunks = [index.IndexedChunk(n, n // 4, f"Article {n // 4}", "", "en") for n in range(10_000)]
    built = VectorIndex(chunks, [[rng.random() for _ in range(384)] for _ in chunks])
    queries = [[rng.random() for _ in range(384)] for _ in range(30)]

    timings = []
    for query in queries:
        started = time.perf_counter()
        built.search(query, k=3)
        timings.append(time.perf_counter() - started)

    median_ms = statistics.median(timings) * 1000
    print(f"\n10,000 chunks x 384 dims: median vector query {median_ms:.2f} ms")
    assert median_ms < 50


@pytest.mark.django_db
def test_an_unreachable_ernie_api_leaves_its_keys_out_of_the_log_and_the_admin(settings, caplog, admin_client):
    """requests names a failed connection's URL, query string and all: the token request's
    carries ERNIE's API key and secret key."""
    settings.EMBEDDING_PROVIDER = "ernie"
    settings.EMBEDDING_BASE_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    settings.ERNIE_API_KEY, settings.ERNIE_SECRET_KEY = "ak-live-4f9c2e", "sk-live-77d01b"
    embeddings._token = None

    import_paths([DEMO_KB / "refund.en.md"])
    search("i want a refund", language="en")

    document = KnowledgeDocument.objects.get()
    page = admin_client.get(f"/admin/agents/knowledgedocument/{document.pk}/change/").content.decode()
    assert "embedding API unreachable" in document.index_error and "Connection refused" in document.index_error
    for secret in ("ak-live-4f9c2e", "sk-live-77d01b"):
        assert secret not in document.index_error and secret not in page and secret not in caplog.text
