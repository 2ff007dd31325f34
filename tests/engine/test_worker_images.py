"""The question's images reach the model: a real worker, real CrewAI, real HTTP.

The fake OpenAI server records every request body, so each test checks what a model
server would really have received: the PNG's bytes as a data-URI image part of the user
turn, once; or, for a text-only model, a line naming the image and no bytes at all.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from chatdesk.engine.client import WorkerClient
from chatdesk.engine.protocol import (
    ErrorKind,
    FailedEvent,
    ImageFile,
    ModelConfig,
    RunImages,
    StepEvent,
)
from chatdesk.testkit.fake_openai import FakeOpenAIServer, reply, status
from tests.engine.conftest import Recorder, run_request
from tests.support.attached import pdf, png

ANSWER = "Thought: I now can give a great answer\nFinal Answer: A red square."


def vision_model(server: FakeOpenAIServer, model: str = "openai/gpt-4o-mini") -> ModelConfig:
    """``gpt-4o-mini``: a model CrewAI says sees images (``supports_multimodal``)."""
    return ModelConfig(
        model=model, base_url=server.base_url, api_key="sk-test", timeout_s=5.0, max_retries=0
    )


def image(path: Path, mime: str = "image/png") -> ImageFile:
    return ImageFile(path=str(path), mime_type=mime, name=path.name, size_bytes=path.stat().st_size)


def run(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    model: ModelConfig,
    images: RunImages,
    message: str = "What is in the picture?",
) -> str:
    request = run_request(model, message=message, deadline_s=30.0, images=images)
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, timeout_ms=40_000)
    return request.run_id


def user_turns(server: FakeOpenAIServer) -> list[Any]:
    bodies = [r.body for r in server.chat_requests()]
    return [m for body in bodies if body for m in body["messages"] if m["role"] == "user"]


def image_urls(server: FakeOpenAIServer) -> list[str]:
    return [
        part["image_url"]["url"]
        for turn in user_turns(server)
        if isinstance(turn["content"], list)
        for part in turn["content"]
        if part.get("type") == "image_url"
    ]


def images_step(recorder: Recorder, run_id: str) -> StepEvent:
    (step,) = [
        e
        for e in recorder.events[run_id]
        if isinstance(e, StepEvent) and e.event == "attachments_sent"
    ]
    return step


def test_a_vision_model_gets_each_image_once_as_a_data_uri_part(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    red = png(tmp_path / "red.png", color="red")
    blue = png(tmp_path / "blue.png", size=(7, 5), color="blue")
    fake_server.set_script([reply(ANSWER)])

    run_id = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server),
        RunImages(files=(image(red), image(blue))),
    )

    assert recorder.completed(run_id).text == "A red square."
    expected = [
        "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
        for path in (red, blue)
    ]
    assert image_urls(fake_server) == expected  # each once, in order, in the user turn
    (turn,) = user_turns(fake_server)
    assert turn["content"][0]["type"] == "text"
    assert "What is in the picture?" in turn["content"][0]["text"]
    assert "cannot see images" not in str(turn)
    step = images_step(recorder, run_id)
    assert step.detail == {
        "images": [
            {"name": "red.png", "mime": "image/png", "bytes": red.stat().st_size},
            {"name": "blue.png", "mime": "image/png", "bytes": blue.stat().st_size},
        ],
        "sent_as": "image parts",
    }


def test_a_text_only_model_is_told_the_names_and_gets_no_bytes(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    photo = png(tmp_path / "photo.png")
    fake_server.set_script([reply(ANSWER)])

    # CrewAI says "fake-model" has no vision (auto); the worker reads no byte of it.
    run_id = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server, "openai/fake-model"),
        RunImages(files=(image(photo),)),
    )

    recorder.completed(run_id)
    assert image_urls(fake_server) == []
    body = str(fake_server.chat_requests()[0].body)
    assert base64.b64encode(photo.read_bytes()).decode()[:40] not in body
    assert "The person attached photo.png (image); this model cannot see images." in body
    assert images_step(recorder, run_id).detail["sent_as"] == "note"


def test_the_persons_choice_beats_what_crewai_says(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    photo = png(tmp_path / "photo.png")
    fake_server.set_script([reply(ANSWER)])
    sees = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server, "openai/llava"),
        RunImages(files=(image(photo),), vision="images"),
    )
    assert images_step(recorder, sees).detail["sent_as"] == "image parts"
    assert len(image_urls(fake_server)) == 1

    blind = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server),
        RunImages(files=(image(photo),), vision="text"),
    )
    assert images_step(recorder, blind).detail["sent_as"] == "note"
    assert len(image_urls(fake_server)) == 1  # the second run sent none


def test_an_image_gone_from_the_data_dir_fails_the_run_with_a_sentence(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    photo = png(tmp_path / "photo.png")
    request_image = image(photo)
    photo.unlink()  # deleted between send and run

    run_id = run(
        client, recorder, qtbot, vision_model(fake_server), RunImages(files=(request_image,))
    )

    failed = recorder.terminal(run_id)
    assert isinstance(failed, FailedEvent)
    assert failed.kind == ErrorKind.ATTACHMENT.value
    assert failed.error == (
        "The attached image “photo.png” is no longer in chatdesk's data folder, so it "
        "cannot be sent; attach it again."
    )
    assert fake_server.chat_requests() == []  # the model was never asked
    assert client.is_ready  # the worker lives on


def test_an_image_over_the_limit_or_not_what_it_claims_is_refused(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    photo = png(tmp_path / "photo.png")
    too_big = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server),
        RunImages(files=(image(photo),), max_bytes=10),
    )
    failed = recorder.terminal(too_big)
    assert isinstance(failed, FailedEvent)
    assert "“photo.png” is larger than" in failed.error

    fake = tmp_path / "fake.png"
    fake.write_bytes(b"#!/bin/sh\necho not an image\n")
    liar = run(client, recorder, qtbot, vision_model(fake_server), RunImages(files=(image(fake),)))
    failed = recorder.terminal(liar)
    assert isinstance(failed, FailedEvent)
    assert "“fake.png” is no longer the image/png it was stored as" in failed.error
    assert fake_server.chat_requests() == []


def test_a_server_refusing_the_image_fails_with_the_image_named(
    client: WorkerClient,
    recorder: Recorder,
    qtbot: Any,
    fake_server: FakeOpenAIServer,
    tmp_path: Path,
) -> None:
    from PIL import Image

    gif = tmp_path / "cat.gif"
    Image.new("RGB", (3, 3), "gray").save(gif, format="GIF")
    fake_server.set_script([status(400, "image input is not supported by this model")])

    run_id = run(
        client,
        recorder,
        qtbot,
        vision_model(fake_server),
        RunImages(files=(image(gif, "image/gif"),)),
    )

    failed = recorder.terminal(run_id)
    assert isinstance(failed, FailedEvent)
    assert failed.kind == ErrorKind.ATTACHMENT.value
    assert failed.error.startswith(
        "The model server refused the request with the attached image cat.gif (GIF)"
    )
    assert "image input is not supported by this model" in failed.error  # the server's words
    assert len(image_urls(fake_server)) == 1  # sent as is (GIF), refused by the server


def test_no_images_means_no_step_and_an_unchanged_prompt(
    client: WorkerClient, recorder: Recorder, qtbot: Any, fake_server: FakeOpenAIServer
) -> None:
    fake_server.set_script([reply(ANSWER)])
    run_id = run(client, recorder, qtbot, vision_model(fake_server), RunImages())
    recorder.completed(run_id)
    steps = [e for e in recorder.events[run_id] if isinstance(e, StepEvent)]
    assert all(step.event != "attachments_sent" for step in steps)
    (turn,) = user_turns(fake_server)
    assert isinstance(turn["content"], str)


def test_a_pdf_is_never_sent_as_an_image(tmp_path: Path) -> None:
    """The protocol itself refuses a document among the images."""
    import pytest

    from chatdesk.engine.protocol import ProtocolError

    document = pdf(tmp_path / "report.pdf")
    with pytest.raises(ProtocolError, match="not an image type"):
        ImageFile.from_dict(image(document, "application/pdf").to_dict())


def test_every_call_of_the_agent_carries_the_image_once(
    client: WorkerClient, recorder: Recorder, qtbot: Any, data_dir: Path, tmp_path: Path
) -> None:
    """After a tool call the agent asks the model again: the image is still in its user
    turn (once), or the model would answer about a picture it no longer sees."""
    from tests.engine.conftest import scripted

    folder = data_dir / "crews" / "looker"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agents.yaml").write_text(
        "helper:\n  role: Helper\n  goal: Help with {message}\n  backstory: Careful.\n"
        "  tools: [chatdesk/calculator]\n",
        encoding="utf-8",
    )
    (folder / "tasks.yaml").write_text(
        "answer:\n  description: Answer {message}\n  expected_output: An answer\n  agent: helper\n",
        encoding="utf-8",
    )
    photo = png(tmp_path / "photo.png")
    script = (
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6 * 7"}}]},
        {"echo": True},  # the second call answers with the prompt it received
    )
    request = run_request(
        scripted(*script),
        crew="looker",
        message="How many squares?",
        deadline_s=60.0,
        images=RunImages(files=(image(photo),), vision="images"),
    )
    client.submit(request)
    recorder.wait_terminal(qtbot, request.run_id, timeout_ms=60_000)

    prompt = recorder.completed(request.run_id).text
    uri = "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
    assert prompt.count(uri) == 1
    assert "42" in prompt  # the tool's result came before this second call
