"""Runs read the model settings the window saved, exactly, without Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QSettings

from chatdesk.config import SETTINGS_FILE_NAME
from chatdesk.runs.model_settings import read_model_settings
from chatdesk.ui.settings import UiSettings

# Whatever a person may type or paste: quotes, commas, semicolons, backslashes, a
# leading @, control characters, any script. (Lone surrogates cannot be saved at all.)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ['"', "a,b", "x;y", "\\", "@", "@@x", "@Variant(x)", " pad ", "é\x00\x7f", '@"a"']
)


def _write(path: Path, values: dict[str, object]) -> None:
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    qs.clear()
    for key, value in values.items():
        qs.setValue(key, value)
    qs.sync()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(provider=TEXT, model=TEXT, base_url=TEXT)
def test_texts_the_window_saved_read_back_exactly(
    tmp_path: Path, provider: str, model: str, base_url: str
) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    window = UiSettings(path)
    window.provider, window.model, window.base_url = provider, model, base_url
    window.sync()

    read = read_model_settings(path)

    assert (read["provider"], read["model"], read["base_url"]) == (
        window.provider,
        window.model,
        window.base_url,
    )


@pytest.mark.parametrize(
    ("saved", "timeout_s", "max_tokens"),
    [
        ({"model/timeoutS": 45.5, "model/maxTokens": 512}, 45.5, 512),
        ({"model/timeoutS": "90", "model/maxTokens": "2048"}, 90.0, 2048),
        ({"model/timeoutS": 0, "model/maxTokens": -3}, None, None),
        ({"model/timeoutS": "soon", "model/maxTokens": "12.5"}, None, None),
        ({"model/timeoutS": ["1", "2"], "model/maxTokens": ["3", "4"]}, None, None),
    ],
)
def test_numbers_read_as_positive_or_unset(
    tmp_path: Path, saved: dict[str, object], timeout_s: float | None, max_tokens: int | None
) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    _write(path, {"model/model": "ollama/llama3.2", **saved})

    read = read_model_settings(path)

    assert (read["timeout_s"], read["max_tokens"]) == (timeout_s, max_tokens)
    assert read["model"] == "ollama/llama3.2"


def test_values_that_are_not_one_text_read_as_unset(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    _write(path, {"model/model": ["a", "b"], "model/baseUrl": b"\x00bytes", "other/model": "x"})

    read = read_model_settings(path)

    assert (read["model"], read["base_url"]) == ("", "")


@pytest.mark.parametrize(
    ("saved", "vision"),
    [("images", "images"), ("text", "text"), (" Text ", "text"), ("maybe", "auto"), (None, "auto")],
)
def test_the_vision_choice_reads_as_one_of_three(
    tmp_path: Path, saved: str | None, vision: str
) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    _write(path, {"model/model": "openai/gpt-4o", **({"model/vision": saved} if saved else {})})

    assert read_model_settings(path)["vision"] == vision


def test_no_file_or_a_garbled_one_means_no_settings(tmp_path: Path) -> None:
    empty = {
        "provider": "",
        "model": "",
        "base_url": "",
        "timeout_s": None,
        "max_tokens": None,
        "vision": "auto",
        "titles": True,
    }
    assert read_model_settings(tmp_path / "missing.ini") == empty
    garbled = tmp_path / SETTINGS_FILE_NAME
    garbled.write_bytes(b"\xff\xfe[model\nmodel\n=\n\x00\x00\n[model]\nmodel=\xffok\n")
    assert read_model_settings(garbled)["model"] == "\ufffdok"
    with_bom = tmp_path / "bom.ini"  # as a text editor may save it
    with_bom.write_bytes(b"\xef\xbb\xbf[model]\r\nmodel = ollama/llama3.2\r\n")
    assert read_model_settings(with_bom)["model"] == "ollama/llama3.2"
    assert QSettings(str(with_bom), QSettings.Format.IniFormat).value("model/model") == (
        "ollama/llama3.2"
    )


def test_the_reader_loads_no_qt() -> None:
    code = (
        "import sys, chatdesk.runs.model_settings; "
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("written", "titles"), [("0", False), ("1", True), ("off", True), ("", True), (" 0 ", False)]
)
def test_titles_by_the_model_are_on_unless_switched_off(
    tmp_path: Path, written: str, titles: bool
) -> None:
    path = tmp_path / SETTINGS_FILE_NAME
    path.write_text(f"[model]\ntitles={written}\n", encoding="utf-8")
    assert read_model_settings(path)["titles"] is titles
