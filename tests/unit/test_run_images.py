"""How the worker gives a run's images to the model (pure parts of it, no CrewAI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chatdesk.engine.errors import Failure
from chatdesk.engine.protocol import ErrorKind, ImageFile, RunImages
from chatdesk.engine.run_images import ImageError, PreparedImages, model_sees_images, names_text
from tests.support.attached import png


class SeeingLLM:
    def supports_multimodal(self) -> bool:
        return True


class GeminiCompletion(SeeingLLM):
    """Named like CrewAI's Gemini provider, whose formatter drops ``image_url`` items."""


class BrokenLLM:
    def supports_multimodal(self) -> bool:
        raise RuntimeError("no idea")


def prepared(tmp_path: Path, *names: str, llm: Any = None) -> PreparedImages:
    files = tuple(
        ImageFile(str(png(tmp_path / name)), "image/png", name, (tmp_path / name).stat().st_size)
        for name in names
    )
    return PreparedImages.prepare(RunImages(files=files), llm or SeeingLLM())


def turn(text: str = "Current Task: what is this?") -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are..."}, {"role": "user", "content": text}]


def test_parts_go_once_into_the_first_user_turn_and_stay_for_later_calls(tmp_path: Path) -> None:
    images = prepared(tmp_path, "a.png", "b.png")
    messages = turn()
    images.add_to(messages, SeeingLLM())
    messages.append({"role": "assistant", "content": "Thought: let me use a tool"})
    messages.append({"role": "user", "content": "Observation: 42"})
    images.add_to(messages, SeeingLLM())  # the hook runs before every call

    content = messages[1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "image_url"]
    assert content[0]["text"] == "Current Task: what is this?"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert messages[3] == {"role": "user", "content": "Observation: 42"}
    assert messages[0]["content"] == "You are..."


def test_gemini_gets_its_own_inline_data_parts(tmp_path: Path) -> None:
    images = prepared(tmp_path, "a.png", llm=GeminiCompletion())
    messages = turn()
    images.add_to(messages, GeminiCompletion())
    text, part = messages[1]["content"]
    assert text == {"type": "text", "text": "Current Task: what is this?"}
    assert part["inlineData"]["mimeType"] == "image/png"
    assert part["inlineData"]["data"].startswith("iVBORw0KGgo")


@pytest.mark.parametrize(
    ("vision", "llm", "sees"),
    [
        ("auto", SeeingLLM(), True),
        ("auto", BrokenLLM(), False),
        ("auto", object(), False),
        ("images", object(), True),
        ("text", SeeingLLM(), False),
    ],
)
def test_who_sees(vision: str, llm: Any, sees: bool) -> None:
    assert model_sees_images(vision, llm) is sees


def test_a_text_only_model_reads_nothing_and_gets_the_note(tmp_path: Path) -> None:
    gone = ImageFile(str(tmp_path / "gone.png"), "image/png", "gone.png", 5)
    also = ImageFile(str(tmp_path / "also.png"), "image/png", "also.png", 5)
    images = PreparedImages.prepare(RunImages(files=(gone, also), vision="text"), SeeingLLM())
    assert images.prompt_note() == (
        "The person attached gone.png and also.png (images); this model cannot see images."
    )
    messages = turn()
    images.add_to(messages, SeeingLLM())
    assert messages == turn()


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    image = ImageFile(str(tmp_path / "dir.png"), "image/png", "dir.png", 5)
    with pytest.raises(ImageError, match=r"“dir\.png”"):
        PreparedImages.prepare(RunImages(files=(image,)), SeeingLLM())


class StatusError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def test_only_a_refusal_of_the_request_is_blamed_on_the_images(tmp_path: Path) -> None:
    images = prepared(tmp_path, "a.png")
    server = Failure(ErrorKind.BAD_REQUEST, "The model server rejected the request (400).", "x")
    blamed = images.explain(StatusError(400), server)
    assert blamed.kind is ErrorKind.ATTACHMENT
    assert blamed.message == (
        "The model server refused the request with the attached image a.png (PNG): this "
        "model may not take images, or not in this format. Use a model that sees images, "
        "or set this one to “text only” in Settings. (The model server rejected the "
        "request (400).)"
    )
    unknown_model = Failure(ErrorKind.BAD_REQUEST, "The model server does not know it (404)", "")
    assert images.explain(StatusError(404), unknown_model) is unknown_model
    assert images.explain(RuntimeError("boom"), server) is server


def test_names_read_as_a_list() -> None:
    assert names_text([]) == ""
    assert names_text(["a"]) == "a"
    assert names_text(["a", "b", "c"]) == "a, b and c"


def test_a_pipe_or_a_link_in_place_of_the_file_is_refused_without_blocking(
    tmp_path: Path,
) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.png")
    real = png(tmp_path / "real.png")
    (tmp_path / "link.png").symlink_to(real)
    for name in ("pipe.png", "link.png"):
        image = ImageFile(str(tmp_path / name), "image/png", name, 5)
        with pytest.raises(ImageError, match=re.escape(f"“{name}”")):
            PreparedImages.prepare(RunImages(files=(image,)), SeeingLLM())


def test_the_limit_is_said_in_words(tmp_path: Path) -> None:
    image = ImageFile(str(png(tmp_path / "a.png")), "image/png", "a.png", 5)
    with pytest.raises(ImageError, match="larger than 10 bytes, the most an image can be"):
        PreparedImages.prepare(RunImages(files=(image,), max_bytes=10), SeeingLLM())
