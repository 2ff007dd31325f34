"""Chunks: their size, their boundaries, their overlap, and the places they name."""

from __future__ import annotations

import itertools
import random

import pytest

from chatdesk.services.documents.chunks import CHUNK_CHARS, chunk_document, place_label
from chatdesk.services.documents.model import Document, Kind, Part, Unit

WORDS = "harbour crane steel invoice river castle coffee budget review train".split()


def _prose(rng: random.Random, paragraphs: int) -> str:
    return "\n\n".join(
        " ".join(
            " ".join(rng.choices(WORDS, k=rng.randint(6, 25))).capitalize() + "."
            for _ in range(rng.randint(1, 6))
        )
        for _ in range(paragraphs)
    )


def _text_document(text: str) -> Document:
    """As the text reader would make it: blocks of non-blank lines, by first line."""
    parts, run, first = [], [], 1
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            first = number if not run else first
            run.append(line)
        elif run:
            parts.append(Part(first, "\n".join(run)))
            run = []
    if run:
        parts.append(Part(first, "\n".join(run)))
    return Document("notes.md", Kind.TEXT, tuple(parts), text.count("\n") + 1)


def test_chunks_are_at_most_the_size_and_end_on_sentences() -> None:
    text = _prose(random.Random(3), 80)
    chunks = chunk_document(_text_document(text))

    assert len(chunks) > 5
    assert all(len(chunk.text) <= CHUNK_CHARS for chunk in chunks)
    assert all(chunk.text.endswith(".") for chunk in chunks)
    assert all(len(chunk.text) >= CHUNK_CHARS // 3 for chunk in chunks[:-1])
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))


def test_a_text_chunk_names_exactly_the_lines_it_came_from() -> None:
    text = _prose(random.Random(5), 60)
    lines = text.split("\n")

    for chunk in chunk_document(_text_document(text)):
        assert chunk.text in "\n".join(lines[chunk.first - 1 : chunk.last])
        assert chunk.text.split("\n")[0] in lines[chunk.first - 1]  # may start mid-line
        assert chunk.text.split("\n")[-1] in lines[chunk.last - 1]


def test_every_sentence_is_in_some_chunk_and_neighbours_overlap() -> None:
    text = _prose(random.Random(7), 60)
    chunks = chunk_document(_text_document(text))
    sentences = [s.strip() for s in text.replace("\n", " ").split(".") if s.strip()]

    assert all(any(sentence in chunk.text for chunk in chunks) for sentence in sentences)
    shared = [before.text[-40:] in after.text for before, after in itertools.pairwise(chunks)]
    assert sum(shared) >= len(shared) // 2  # overlap wherever a last sentence is short


def test_pdf_chunks_span_pages_and_name_them() -> None:
    rng = random.Random(11)
    pages = tuple(Part(number, _prose(rng, 2)) for number in range(1, 30))
    document = Document("report.pdf", Kind.PDF, pages, 30)

    chunks = chunk_document(document)

    assert chunks[0].first == 1 and chunks[-1].last == 29
    for chunk in chunks:
        inside = [part for part in pages if chunk.first <= part.number <= chunk.last]
        first_sentence = chunk.text.split(".")[0]
        assert first_sentence in inside[0].text
        assert chunk.text.rstrip(".").split(".")[-1].strip() in inside[-1].text


def test_a_docx_chunk_carries_the_heading_it_starts_under() -> None:
    parts = (
        Part(1, "Costs", "Costs"),
        Part(2, "Steel prices rose in March.", "Costs"),
        Part(3, "Risks", "Risks"),
        Part(4, "The crane contract ends in June.", "Risks"),
    )
    document = Document("r.docx", Kind.DOCX, parts, 4)

    (whole,) = chunk_document(document)
    small = chunk_document(document, size=40, overlap=0)

    assert (whole.first, whole.last, whole.heading) == (1, 4, "Costs")
    assert [(chunk.first, chunk.heading) for chunk in small] == [(1, "Costs"), (3, "Risks")]


def test_a_line_without_spaces_is_cut_hard() -> None:
    document = Document("min.js", Kind.TEXT, (Part(1, "x" * 4000),), 1)

    chunks = chunk_document(document)

    assert [len(chunk.text) for chunk in chunks] == [1500, 1500, 1000]
    assert all((chunk.first, chunk.last) == (1, 1) for chunk in chunks)


def test_long_words_lines_are_cut_after_a_space() -> None:
    line = " ".join(["harbour"] * 1000)  # one line, no sentence end
    (first, *_rest) = chunk_document(Document("a.txt", Kind.TEXT, (Part(1, line),), 1))

    assert first.text.endswith("harbour ") or first.text.endswith("harbour")
    assert len(first.text) <= CHUNK_CHARS


@pytest.mark.parametrize(
    ("unit", "first", "last", "label"),
    [
        (Unit.PAGE, 4, 4, "page 4"),
        (Unit.PAGE, 4, 5, "pages 4–5"),
        (Unit.PARAGRAPH, 12, 18, "paragraphs 12–18"),
        (Unit.LINE, 10, 40, "lines 10–40"),
    ],
)
def test_place_labels(unit: Unit, first: int, last: int, label: str) -> None:
    assert place_label(unit, first, last) == label
