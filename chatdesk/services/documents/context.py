"""What the model is told of the attached documents, and which places it was shown.

Documents that fit the budget go in whole. When they do not, the smallest go in whole
while they take at most half the budget (a one-page note is not worth searching),
and the rest are searched: their best chunks, across every such document, fill what
is left. Each passage is marked with its file and place (``[report.pdf, page 4]``) so
the model can say where it read something; ``citations`` lists the same places for
the trace step and the citations under the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatdesk.services.documents.chunks import Chunk, chunk_document, place_label
from chatdesk.services.documents.model import Document, Kind, Unit
from chatdesk.services.documents.retrieval import TextIndex

MAX_CHUNKS = 8
SEPARATOR = "\n\n"
ELLIPSIS = "…"


@dataclass(frozen=True)
class Citation:
    """One passage the model was shown: a document's place range, or the whole of it."""

    document: int  # index in the documents given
    name: str
    unit: Unit
    first: int
    last: int
    whole: bool
    chunk: int | None = None
    score: float | None = None

    @property
    def label(self) -> str:
        return f"{self.name}, {place_label_for(self)}"

    def as_json(self) -> dict[str, object]:
        """For the trace step: plain values only."""
        return {
            "document": self.document,
            "name": self.name,
            "unit": self.unit.value,
            "first": self.first,
            "last": self.last,
            "whole": self.whole,
            "chunk": self.chunk,
            "score": self.score,
            "label": self.label,
        }


@dataclass(frozen=True)
class Context:
    """The text for the prompt and the places it holds, in the order it holds them."""

    text: str
    citations: tuple[Citation, ...]


def place_label_for(citation: Citation) -> str:
    if citation.whole:
        return "whole document"
    return place_label(citation.unit, citation.first, citation.last)


def render_whole(document: Document) -> str:
    """The whole document, a PDF's pages each under its own mark, other kinds under one."""
    if document.kind is Kind.PDF:
        return SEPARATOR.join(
            f"[{document.name}, page {part.number}]\n{part.text.strip()}" for part in document.parts
        )
    return f"[{document.name}]\n" + SEPARATOR.join(part.text for part in document.parts)


def fits(document: Document, budget_chars: int) -> bool:
    """Whether the document goes in whole within ``budget_chars``."""
    return len(render_whole(document)) <= budget_chars


def build_context(
    documents: Sequence[Document],
    question: str,
    budget_chars: int,
    *,
    max_chunks: int = MAX_CHUNKS,
) -> Context:
    """The documents for a prompt of at most ``budget_chars`` characters."""
    wholes = [render_whole(document) for document in documents]
    if _joined_length(wholes) <= budget_chars:
        return Context(
            SEPARATOR.join(wholes),
            tuple(_whole_citation(index, doc) for index, doc in enumerate(documents)),
        )
    whole: list[int] = []
    for index in sorted(range(len(documents)), key=lambda index: len(wholes[index])):
        if _joined_length([wholes[i] for i in [*whole, index]]) > budget_chars // 2:
            break
        whole.append(index)
    whole.sort()
    texts = [wholes[index] for index in whole]
    citations = [_whole_citation(index, documents[index]) for index in whole]
    searched = [index for index in range(len(documents)) if index not in whole]
    room = budget_chars - _joined_length(texts) - (len(SEPARATOR) if texts else 0)
    passages = _passages(documents, searched, question, room, max_chunks)
    for index, chunk, score in passages:
        texts.append(_mark(documents[index], chunk))
        citations.append(_chunk_citation(index, documents[index], chunk, score))
    return Context(SEPARATOR.join(texts), tuple(citations))


def _passages(
    documents: Sequence[Document],
    searched: list[int],
    question: str,
    room: int,
    max_chunks: int,
) -> list[tuple[int, Chunk, float | None]]:
    """The best chunks of the ``searched`` documents that fit in ``room``, in reading order.

    When not even the best one fits, its beginning does, cut with an ellipsis.
    """
    pool = [(index, chunk) for index in searched for chunk in chunk_document(documents[index])]
    with TextIndex(chunk.text for _index, chunk in pool) as search:
        hits = search.best(question, max_chunks)
    chosen: list[tuple[int, Chunk, float | None]] = []
    used = 0
    for hit in hits:
        index, chunk = pool[hit.position]
        cost = len(_mark(documents[index], chunk)) + (len(SEPARATOR) if chosen else 0)
        if used + cost <= room:
            chosen.append((index, chunk, hit.score))
            used += cost
    if not chosen and hits:
        index, chunk = pool[hits[0].position]
        overhead = len(_mark(documents[index], chunk)) - len(chunk.text) + len(ELLIPSIS)
        if room > overhead:
            cut = Chunk(
                chunk.index,
                chunk.text[: room - overhead] + ELLIPSIS,
                chunk.first,
                chunk.last,
                chunk.heading,
            )
            chosen.append((index, cut, hits[0].score))
    chosen.sort(key=lambda item: (item[0], item[1].index))
    return chosen


def _mark(document: Document, chunk: Chunk) -> str:
    place = place_label(document.unit, chunk.first, chunk.last)
    under = f' (under "{chunk.heading}")' if chunk.heading else ""
    return f"[{document.name}, {place}{under}]\n{chunk.text}"


def _joined_length(texts: list[str]) -> int:
    return sum(len(text) for text in texts) + len(SEPARATOR) * max(len(texts) - 1, 0)


def _whole_citation(index: int, document: Document) -> Citation:
    return Citation(index, document.name, document.unit, 1, document.places, True)


def _chunk_citation(index: int, document: Document, chunk: Chunk, score: float | None) -> Citation:
    return Citation(
        index, document.name, document.unit, chunk.first, chunk.last, False, chunk.index, score
    )
