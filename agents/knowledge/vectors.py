"""The embedding half of hybrid retrieval: every ready chunk's vector in one matrix, per process.

Built from KnowledgeChunk.embedding (written by the indexing task when an
embedding API is configured) and rebuilt when the knowledge base changes, like
the BM25 index (agents/knowledge/index.py). A query is one matrix-vector
product: 10,000 chunks of 1,024 dimensions take a few milliseconds.
"""

from __future__ import annotations

import numpy as np

from agents.cache import Rechecked
from agents.knowledge.index import CHECK_SECONDS, IndexedChunk


class VectorIndex:
    def __init__(self, chunks: list[IndexedChunk], vectors: list) -> None:
        self.chunks = chunks
        if chunks:
            matrix = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self.matrix = matrix / np.where(norms == 0, 1, norms)
        else:
            self.matrix = np.zeros((0, 0), dtype=np.float32)

    def search(self, vector, *, k: int, language: str | None = None) -> list[tuple[IndexedChunk, float]]:
        """The k most similar chunks (cosine similarity), best first, at most one per document."""
        if not self.chunks:
            return []
        query = np.asarray(vector, dtype=np.float32)
        if query.shape[0] != self.matrix.shape[1]:
            return []  # the embedding model changed; re-index the documents
        query = query / (np.linalg.norm(query) or 1.0)
        scores = self.matrix @ query
        out: list[tuple[IndexedChunk, float]] = []
        seen: set[int] = set()
        for position in np.argsort(-scores):
            chunk = self.chunks[position]
            if (language and chunk.language not in (language, "")) or chunk.document_id in seen:
                continue
            seen.add(chunk.document_id)
            out.append((chunk, float(scores[position])))
            if len(out) == k:
                break
        return out


def get_vector_index() -> VectorIndex:
    return _cached.get()


def invalidate() -> None:
    _cached.invalidate()


def _build() -> VectorIndex:
    from agents.knowledge.embeddings import from_bytes
    from agents.models import KnowledgeChunk, KnowledgeDocument

    rows = (
        KnowledgeChunk.objects.filter(
            document__index_status=KnowledgeDocument.IndexStatus.READY, embedding__isnull=False
        )
        .order_by("document_id", "ordinal")
        .values_list("id", "document_id", "document__title", "text", "document__language", "embedding")
    )
    chunks, vectors = [], []
    for chunk_id, document_id, title, text, language, embedding in rows.iterator(chunk_size=2000):
        chunks.append(IndexedChunk(chunk_id, document_id, title, text, language))
        vectors.append(from_bytes(embedding))
    return VectorIndex(chunks, vectors)


def _knowledge_version() -> tuple:
    from agents.knowledge.index import _database_version

    return _database_version()


_cached: Rechecked[VectorIndex] = Rechecked(_build, _knowledge_version, every=CHECK_SECONDS)
