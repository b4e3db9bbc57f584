"""Embedding vectors for hybrid retrieval, from ERNIE's embedding endpoint or an OpenAI-compatible API.

Off unless settings.EMBEDDING_PROVIDER is set; retrieval is then BM25 alone.
Synchronous (`requests`): indexing runs in a Celery task and searching in a
worker thread, never on the event loop.

- "openai": POST {EMBEDDING_BASE_URL}/embeddings {"model", "input": [...]}
  with `Authorization: Bearer {EMBEDDING_API_KEY}`; vectors in data[i].embedding.
- "ernie": POST {ERNIE_BASE_URL}/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/{EMBEDDING_MODEL}
  ?access_token=… {"input": [...]} (at most 16 texts of 384 tokens); the same reply shape.
"""

from __future__ import annotations

import threading
import time
from array import array

import requests
from django.conf import settings

from csbot.request_failures import request_failure

# ERNIE's embedding-v1 takes at most 16 texts per request.
BATCH = 16
MAX_TEXT_CHARS = 1000


class EmbeddingError(Exception):
    """The embedding API failed; retrieval falls back to BM25 alone."""


def enabled() -> bool:
    return bool(settings.EMBEDDING_PROVIDER)


def embed(texts: list[str]) -> list[list[float]]:
    """One vector per text, in order. Raises EmbeddingError."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), BATCH):
        vectors.extend(_embed_batch([t[:MAX_TEXT_CHARS] for t in texts[start : start + BATCH]]))
    return vectors


def to_bytes(vector: list[float]) -> bytes:
    return array("f", vector).tobytes()


def from_bytes(data: bytes) -> array:
    vector = array("f")
    vector.frombytes(bytes(data))
    return vector


def _embed_batch(texts: list[str]) -> list[list[float]]:
    provider = settings.EMBEDDING_PROVIDER
    if provider == "openai":
        url = f"{settings.EMBEDDING_BASE_URL.rstrip('/')}/embeddings"
        headers = {"Authorization": f"Bearer {settings.EMBEDDING_API_KEY}"}
        payload = _post(url, {"model": settings.EMBEDDING_MODEL, "input": texts}, headers=headers)
    elif provider == "ernie":
        base = (settings.EMBEDDING_BASE_URL or settings.ERNIE_BASE_URL).rstrip("/")
        url = f"{base}/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/{settings.EMBEDDING_MODEL}"
        payload = _post(url, {"input": texts}, params={"access_token": _ernie_token(base)})
    else:
        raise EmbeddingError(f"EMBEDDING_PROVIDER must be 'ernie' or 'openai', got {provider!r}")
    if "error_code" in payload or "error" in payload:
        raise EmbeddingError(f"embedding API error: {payload.get('error_msg') or payload.get('error')}")
    try:
        rows = sorted(payload["data"], key=lambda row: row.get("index", 0))
        vectors = [[float(x) for x in row["embedding"]] for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(f"embedding API sent an unreadable reply: {str(payload)[:200]}") from exc
    if len(vectors) != len(texts):
        raise EmbeddingError(f"asked for {len(texts)} vectors, got {len(vectors)}")
    return vectors


def _post(url: str, body: dict, *, headers: dict | None = None, params: dict | None = None) -> dict:
    try:
        response = requests.post(url, json=body, headers=headers, params=params, timeout=settings.EMBEDDING_TIMEOUT)
    except requests.RequestException as exc:
        # Its cause would name the URL: ERNIE's keys or access token are in its query string.
        raise EmbeddingError(f"embedding API unreachable: {request_failure(exc)}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 300 or not isinstance(payload, dict):
        raise EmbeddingError(f"embedding API replied HTTP {response.status_code}: {response.text[:200]}")
    return payload


_token_lock = threading.Lock()
_token: tuple[str, float] | None = None


def _ernie_token(base: str) -> str:
    global _token
    with _token_lock:
        if _token and time.monotonic() < _token[1]:
            return _token[0]
        params = {
            "grant_type": "client_credentials",
            "client_id": settings.ERNIE_API_KEY,
            "client_secret": settings.ERNIE_SECRET_KEY,
        }
        payload = _post(f"{base}/oauth/2.0/token", {}, params=params)
        if not payload.get("access_token"):
            raise EmbeddingError(f"ERNIE token request refused: {payload.get('error_description') or payload}")
        lifetime = float(payload.get("expires_in") or 3600)
        _token = (payload["access_token"], time.monotonic() + lifetime * 0.9)
        return _token[0]
