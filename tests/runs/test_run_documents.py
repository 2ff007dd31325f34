"""The coordinator hands a run its question's documents: the passages in the request,
the ``documents_used`` step first among its steps, citations and notes kept on the
reply through to its end; Stop while a document is read submits nothing.

The worker is replaced by a transport the test drives (the real worker and CrewAI:
tests/ui/test_document_citations.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from chatdesk.engine.protocol import CompletedEvent, ModelConfig, RunRequest
from chatdesk.runs.coordinator import Coordinator
from chatdesk.services import Services
from chatdesk.services.conversation import Outgoing
from chatdesk.services.document_texts import DocumentTexts
from chatdesk.store.migrate import open_store
from chatdesk.vocabulary import ExecutionStatus
from tests.support import attached


class FakeTransport:
    def __init__(self) -> None:
        self.requests: list[RunRequest] = []
        self.cancelled: list[str] = []

    def submit(self, request: RunRequest) -> None:
        self.requests.append(request)

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    yield Services(store, attachments_dir=tmp_path / "attachments")
    store.close()


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def coordinator(
    services: Services, transport: FakeTransport, chatdesk_loop: asyncio.AbstractEventLoop
) -> Iterator[Coordinator]:
    coordinator = Coordinator(
        services, transport, lambda _thread: ModelConfig(model="scripted"), deadline_s=30
    )
    yield coordinator
    coordinator.shutdown()


def test_the_documents_travel_with_the_run_and_their_places_stay_on_the_reply(
    qtbot: QtBot,
    services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    tmp_path: Path,
) -> None:
    user = services.users.ensure()
    notes = tmp_path / "notes.txt"
    notes.write_text("The hull is blue.\n")
    gone = services.attachments.add(user, attached.pdf(tmp_path / "gone.pdf", "unseen"))
    files = [services.attachments.add(user, notes), gone]
    services.attachments.path_of(user, gone.id).unlink()
    sent = services.conversation.send(user, Outgoing("Hull colour?", None, attachments=files))
    assert sent.execution is not None

    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=10_000)
    (request,) = transport.requests
    assert request.documents == "[notes.txt]\nThe hull is blue."
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000):
        coordinator.on_worker_event(CompletedEvent(request.run_id, 1, "Blue.", "scripted", 1, 1, 2))
    (step,) = services.executions.logs(user, sent.execution.id)
    assert step.event == "documents_used" and step.detail["attachments"] == [files[0].id]
    reply = services.messages.list(user, sent.message.thread_id).messages[-1]
    assert reply.content == "Blue."
    assert reply.metadata["citations"] == [
        {
            "attachment": files[0].id,
            "name": "notes.txt",
            "label": "notes.txt, whole document",
            "unit": "line",
            "first": 1,
            "last": 2,
        }
    ]
    (note,) = reply.metadata["notes"]
    assert note.startswith("The model did not see gone.pdf")


def test_every_reply_of_a_chat_uses_its_knowledge_beside_the_questions_files(
    qtbot: QtBot,
    services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    tmp_path: Path,
) -> None:
    user = services.users.ensure()
    thread = services.threads.create(user, "Boat")
    guide = tmp_path / "guide.txt"
    guide.write_text("The mast is 12 metres tall.\n")
    kept = services.attachments.add(user, guide)
    services.knowledge.add(user, thread.id, [kept])
    question = tmp_path / "question.txt"
    question.write_text("The sail is red.\n")
    mine = services.attachments.add(user, question)

    sent = services.conversation.send(
        user, Outgoing("Mast and sail?", thread.id, attachments=[mine])
    )
    assert sent.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 1, timeout=10_000)
    first = transport.requests[0]
    assert "[question.txt]\nThe sail is red." in first.documents
    assert "[guide.txt]\nThe mast is 12 metres tall." in first.documents
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000):
        coordinator.on_worker_event(CompletedEvent(first.run_id, 1, "Red.", "scripted", 1, 1, 2))

    again = services.conversation.send(user, Outgoing("And the mast?", thread.id))
    assert again.execution is not None
    qtbot.waitUntil(lambda: len(transport.requests) == 2, timeout=10_000)
    second = transport.requests[1]
    assert second.documents == "[guide.txt]\nThe mast is 12 metres tall."  # no files of its own
    with qtbot.waitSignal(coordinator.run_finished, timeout=5000):
        coordinator.on_worker_event(CompletedEvent(second.run_id, 1, "12 m.", "scripted", 1, 1, 2))
    reply = services.messages.list(user, thread.id).messages[-1]
    assert [c["attachment"] for c in reply.metadata["citations"]] == [kept.id]


def test_stop_while_a_document_is_read_submits_nothing(
    qtbot: QtBot,
    services: Services,
    transport: FakeTransport,
    coordinator: Coordinator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = services.users.ensure()
    reading, release = threading.Event(), threading.Event()
    real = DocumentTexts.document

    def slow(self: DocumentTexts, *args: object, **kwargs: object) -> object:
        reading.set()
        release.wait(10)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DocumentTexts, "document", slow)
    notes = tmp_path / "notes.txt"
    notes.write_text("text\n")
    record = services.attachments.add(user, notes)
    sent = services.conversation.send(user, Outgoing("?", None, attachments=[record]))
    assert sent.execution is not None
    qtbot.waitUntil(reading.is_set, timeout=10_000)

    with qtbot.waitSignal(coordinator.run_finished, timeout=5000) as finished:
        coordinator.cancel(sent.execution.id)
    release.set()

    assert finished.args == [sent.execution.id, ExecutionStatus.CANCELLED.value]
    qtbot.wait(100)
    assert transport.requests == []


def test_off_the_loop_returns_raises_and_drops_a_late_result() -> None:
    from chatdesk.runs.run_documents import off_the_loop

    release = threading.Event()

    def fail() -> int:
        raise ValueError("broken page")

    async def scenario() -> tuple[int, str, bool]:
        value = await off_the_loop(lambda: 42)
        try:
            await off_the_loop(fail)
        except ValueError as error:
            message = str(error)
        late = asyncio.ensure_future(off_the_loop(lambda: release.wait(5)))
        await asyncio.sleep(0)
        late.cancel()
        release.set()
        await asyncio.sleep(0.05)  # the thread's result arrives for nobody
        return value, message, late.cancelled()

    assert asyncio.run(scenario()) == (42, "broken page", True)
