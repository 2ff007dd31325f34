"""What the model is told: whole documents when they fit, else the best passages, marked."""

from __future__ import annotations

import json
import random
import re

from chatdesk.services.documents.context import build_context, fits, render_whole
from chatdesk.services.documents.model import Document, Kind, Part

WORDS = "harbour steel invoice river castle coffee budget review train garden".split()


def _pages(name: str, count: int, seed: int, special: dict[int, str]) -> Document:
    rng = random.Random(seed)
    parts = []
    for number in range(1, count + 1):
        text = " ".join(rng.choices(WORDS, k=250)) + "."
        if number in special:
            text += " " + special[number]
        parts.append(Part(number, text))
    return Document(name, Kind.PDF, tuple(parts), count)


NOTE = Document("note.txt", Kind.TEXT, (Part(1, "Remember: the gate code is 4417."),), 1)


def test_fits_is_the_length_of_the_whole_text() -> None:
    report = _pages("report.pdf", 3, 1, {})
    length = len(render_whole(report))

    assert fits(report, length)
    assert not fits(report, length - 1)


def test_a_document_that_fits_goes_in_whole_with_its_pages_marked() -> None:
    report = _pages("report.pdf", 3, 1, {2: "The zeppelin lands at noon."})

    context = build_context([report], "zeppelin", 100_000)

    assert context.text.startswith("[report.pdf, page 1]\n")
    assert "[report.pdf, page 2]\n" in context.text and "zeppelin" in context.text
    assert [(c.name, c.whole, c.first, c.last) for c in context.citations] == [
        ("report.pdf", True, 1, 3)
    ]
    assert context.citations[0].label == "report.pdf, whole document"


def test_a_long_document_gives_its_best_passages_within_the_budget() -> None:
    report = _pages("report.pdf", 120, 2, {77: "The zeppelin lands at noon on the roof."})

    context = build_context([report], "When does the zeppelin land?", 8_000)

    assert len(context.text) <= 8_000
    assert not any(citation.whole for citation in context.citations)
    first = context.citations[0]
    assert first.first <= 77 <= first.last or any(
        c.first <= 77 <= c.last for c in context.citations
    )
    best = min(context.citations, key=lambda c: c.score if c.score is not None else 0)
    assert best.first <= 77 <= best.last
    marks = re.findall(r"^\[report\.pdf, (pages? [0-9–]+)\]$", context.text, re.MULTILINE)
    assert marks == [c.label.removeprefix("report.pdf, ") for c in context.citations]
    positions = [(c.first, c.chunk) for c in context.citations]
    assert positions == sorted(positions)  # reading order, not rank order


def test_a_small_document_stays_whole_beside_a_searched_one() -> None:
    report = _pages("report.pdf", 120, 3, {9: "Budget overrun on the zeppelin hangar."})

    context = build_context([report, NOTE], "zeppelin gate code", 10_000)

    whole = [c for c in context.citations if c.whole]
    assert [c.name for c in whole] == ["note.txt"]
    assert "[note.txt]\nRemember: the gate code is 4417." in context.text
    assert any(c.name == "report.pdf" and c.first <= 9 <= c.last for c in context.citations)
    assert len(context.text) <= 10_000


def test_a_budget_smaller_than_a_passage_cuts_the_best_one() -> None:
    report = _pages("report.pdf", 40, 4, {5: "zeppelin"})

    context = build_context([report], "zeppelin", 150)

    assert len(context.text) == 150
    assert context.text.startswith("[report.pdf, page 5]\n")
    assert context.text.endswith("…")
    assert [citation.first for citation in context.citations] == [5]


def test_citations_are_plain_json_for_the_trace_step() -> None:
    report = _pages("report.pdf", 60, 5, {})

    context = build_context([report, NOTE], "steel", 6_000)
    encoded = json.dumps([citation.as_json() for citation in context.citations])

    decoded = json.loads(encoded)
    assert {item["unit"] for item in decoded} == {"page", "line"}
    assert all(item["label"].startswith(item["name"] + ", ") for item in decoded)
