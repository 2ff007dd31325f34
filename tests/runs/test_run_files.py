"""What a run takes along of the attached files: the coordinator with a real SQLite store
and real stored copies, the worker replaced by a transport the test drives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.protocol import CompletedEvent, FailedEvent, ModelConfig, StepEvent
from chatdesk.runs.coordinator import Coordinator
from chatdesk.runs.run_files import note_of, shown_name, vision_for
from chatdesk.services import Services
from chatdesk.services.attachment_types import MAX_IMAGE_BYTES
from chatdesk.store.migrate import open_store
from tests.runs.test_coordinator import FakeTransport
from tests.support.attached import pdf, png

MODEL = ModelConfig(model="openai/gpt-4o-mini")


class Transport(FakeTransport):
    def answer(self, run_id: str, call_id: str, decision: str) -> None:
        raise AssertionError("no tool call in these runs")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store, attachments_dir=tmp_path / "attachments")
    store.close()


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"model": MODEL.model, "vision": "auto"}


@pytest.fixture
def transport() -> Transport:
    return Transport()


@pytest.fixture
def coordinator(
    services: Services,
    transport: Transport,
    settings: dict[str, Any],
    chatdesk_loop: asyncio.AbstractEventLoop,
) -> Iterator[Coordinator]:
    coordinator = Coordinator(
        services, transport, lambda _thread: MODEL, deadline_s=30, read_settings=lambda: settings
    )
    yield coordinator
    coordinator.shutdown()


def _images_step(run_id: str, sent_as: str, *names: str) -> StepEvent:
    images = [{"name": name, "mime": "image/png", "bytes": 70} for name in names]
    return StepEvent(
        run_id,
        1,
        "attachments_sent",
        datetime.now(UTC).isoformat(),
        detail={"images": images, "sent_as": sent_as},
    )


def test_the_questions_images_travel_as_stored_paths_and_earlier_ones_by_name(
    qtbot: QtBot,
    services: Services,
    transport: Transport,
    coordinator: Coordinator,
    tmp_path: Path,
) -> None:
    user = services.users.ensure()
    thread = services.threads.create(user)
    old = services.attachments.add(user, png(tmp_path / "old.png", color="green"))
    services.messages.send(user, thread.id, "earlier", triggers_execution=False, attachments=[old])
    services.messages.send(user, thread.id, "", triggers_execution=False, attachments=[old])
    photo = services.attachments.add(user, png(tmp_path / "photo.png"))
    chart = services.attachments.add(user, png(tmp_path / "chart.png", size=(9, 9)))
    report = services.attachments.add(user, pdf(tmp_path / "report.pdf"))
    sent = services.messages.send(
        user, thread.id, "Compare these", attachments=[photo, report, chart]
    )

    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    request = transport.requests[0]
    images = request.images
    assert [(i.name, i.mime_type, i.size_bytes) for i in images.files] == [
        ("photo.png", "image/png", photo.size_bytes),
        ("chart.png", "image/png", chart.size_bytes),
    ]  # the PDF is not an image part: documents have their own way to the model
    for image, record in zip(images.files, (photo, chart), strict=True):
        assert Path(image.path).read_bytes() == (tmp_path / record.file_name).read_bytes()
        assert Path(image.path).is_relative_to(tmp_path / "attachments")
    assert (images.vision, images.max_bytes) == ("auto", MAX_IMAGE_BYTES)
    assert [m.content for m in request.history] == [
        "earlier\n[The person attached: old.png (image, not shown again)]",
        "[The person attached: old.png (image, not shown again)]",
    ]
    assert "base64" not in str(request)
    assert sent.execution is not None


def test_a_note_goes_under_the_reply_of_a_model_that_could_not_see(
    qtbot: QtBot,
    services: Services,
    transport: Transport,
    coordinator: Coordinator,
    settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    settings["vision"] = "text"
    user = services.users.ensure()
    thread = services.threads.create(user)
    photo = services.attachments.add(user, png(tmp_path / "photo.png"))
    sent = services.messages.send(user, thread.id, "What is it?", attachments=[photo])
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    request = transport.requests[0]
    assert request.images.vision == "text"
    rid = request.run_id

    coordinator.on_worker_event(_images_step(rid, "note", "photo.png"))
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000):
        coordinator.on_worker_event(CompletedEvent(rid, 2, "I cannot see it.", MODEL.model))

    assert sent.execution is not None
    (step,) = services.executions.logs(user, sent.execution.id)
    assert step.event == "attachments_sent"
    assert step.detail["sent_as"] == "note"
    reply = services.messages.list(user, thread.id).messages[-1]
    assert reply.metadata["notes"] == [
        "This model cannot see images: it was told only the names of photo.png."
    ]


def test_images_sent_as_parts_leave_no_note_and_a_failure_keeps_its_words(
    qtbot: QtBot,
    services: Services,
    transport: Transport,
    coordinator: Coordinator,
    tmp_path: Path,
) -> None:
    user = services.users.ensure()
    thread = services.threads.create(user)
    photo = services.attachments.add(user, png(tmp_path / "photo.png"))
    services.messages.send(user, thread.id, "What is it?", attachments=[photo])
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=3000)
    rid = transport.requests[0].run_id
    coordinator.on_worker_event(_images_step(rid, "image parts", "photo.png"))
    gone = "The attached image “photo.png” is no longer in chatdesk's data folder."
    with qtbot.waitSignal(coordinator.run_finished, timeout=3000):
        coordinator.on_worker_event(FailedEvent(rid, 2, gone, kind="attachment"))
    reply = services.messages.list(user, thread.id).messages[-1]
    assert "notes" not in reply.metadata
    assert reply.status.value == "failed"


@pytest.mark.parametrize(
    ("model", "settings", "vision"),
    [
        ("openai/gpt-4o", {"model": "openai/gpt-4o", "vision": "text"}, "text"),
        ("openai/gpt-4o", {"model": " openai/gpt-4o ", "vision": "images"}, "images"),
        ("ollama/llava", {"model": "openai/gpt-4o", "vision": "images"}, "auto"),  # not its model
        ("openai/gpt-4o", {"model": "openai/gpt-4o", "vision": "x-ray"}, "auto"),
        ("openai/gpt-4o", {}, "auto"),
    ],
)
def test_the_vision_choice_belongs_to_the_model_in_settings(
    model: str, settings: dict[str, Any], vision: str
) -> None:
    assert vision_for(model, settings) == vision


def test_names_reach_the_model_as_one_line() -> None:
    assert shown_name("a\nb\x00c\x7f.png") == "a b c .png"
    assert shown_name("\n\t") == "image"
    assert len(shown_name("x" * 1000)) == 255


def test_only_a_note_step_makes_a_note() -> None:
    assert note_of(_images_step("r", "image parts", "a.png")) is None
    assert note_of(_images_step("r", "note")) is None
    many = note_of(_images_step("r", "note", *(f"{n}.png" for n in range(7))))
    assert many == (
        "This model cannot see images: it was told only the names of "
        "0.png, 1.png, 2.png, 3.png, 4.png and 2 more."
    )
    hostile = StepEvent("r", 1, "attachments_sent", "t", detail={"sent_as": "note", "images": 3})
    assert note_of(hostile) is None
