"""The price table: the shipped file, a person's override, broken files, local models,
and the context meter's arithmetic (``runs.usage_costs``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chatdesk.prices import FILE_NAME, MAX_FILE_BYTES, PriceBook, is_local, load_prices
from chatdesk.runs.providers import ENV_BASE_URL, ENV_MODEL
from chatdesk.runs.usage_costs import (
    ContextFill,
    Fill,
    Pricing,
    estimate_tokens,
)
from chatdesk.services.records import RunTokens
from chatdesk.services.usage import HistorySize, ModelTotals


@pytest.fixture(autouse=True)
def _no_model_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MODEL, raising=False)
    monkeypatch.delenv(ENV_BASE_URL, raising=False)


def _override(data_dir: Path, models: list[dict[str, Any]]) -> Path:
    path = data_dir / FILE_NAME
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return path


def test_the_shipped_table_prices_models_whatever_their_provider_prefix(tmp_path: Path) -> None:
    table = load_prices(tmp_path)
    assert table.problem is None
    # 1,000,000 in and out of gpt-4o-mini: $0.15 + $0.60; the more specific row wins
    assert table.cost("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.cost("gpt-4o-mini-2024-07-18", 2_000, 1_000) == pytest.approx(0.0009)
    assert table.cost("openai/gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("openrouter/anthropic/claude-3-5-sonnet-latest", 0, 1_000_000) == 15.0
    assert table.context_window("OpenAI/GPT-4o-mini") == 128_000
    assert table.context_window("gemini/gemini-1.5-pro-002") == 2_097_152


def test_an_unknown_model_has_no_price_and_no_window(tmp_path: Path) -> None:
    table = load_prices(tmp_path)
    assert table.cost("acme/wonder-model-9", 1000, 1000) is None
    assert table.context_window("acme/wonder-model-9") is None


@pytest.mark.parametrize(
    ("model", "base_url"),
    [
        ("ollama/llama3.2", None),
        ("ollama_chat/qwen2.5", None),
        ("lm_studio/phi-4", None),
        ("openai/qwen2.5-7b-instruct", "http://127.0.0.1:1234/v1"),
        ("openai/gpt-4o", "http://localhost:8080/v1"),  # a local proxy: not billed here
        ("openai/llama", "http://[::1]:8080/v1"),
    ],
)
def test_local_models_cost_nothing(tmp_path: Path, model: str, base_url: str | None) -> None:
    assert is_local(model, base_url)
    assert load_prices(tmp_path).cost(model, 50_000, 9_000, base_url) == 0.0


@pytest.mark.parametrize(
    "base_url", [None, "https://api.openai.com/v1", "http://10.0.0.5:1234/v1", "http://[bad"]
)
def test_remote_base_urls_are_not_local(base_url: str | None) -> None:
    assert not is_local("openai/gpt-4o", base_url)


def test_the_person_s_file_wins_and_adds_models(tmp_path: Path) -> None:
    _override(
        tmp_path,
        [
            {"pattern": "gpt-4o-mini*", "input": 1.0, "output": 2.0, "context": 64000},
            {"pattern": "acme/*", "input": 0.5, "output": None, "context": 32000},
        ],
    )
    table = load_prices(tmp_path)
    assert table.problem is None
    assert table.cost("openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert table.context_window("openai/gpt-4o-mini") == 64_000
    assert table.cost("openai/gpt-4o", 1_000_000, 0) == pytest.approx(2.5)  # still shipped
    assert table.cost("acme/wonder", 10, 10) is None  # an output price left unknown
    assert table.context_window("acme/wonder") == 32_000


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON (line 1"),
        ('["gpt-4o"]', 'needs an object with a "models" list'),
        ('{"models": [{"input": 1}]}', 'model 1 needs a "pattern"'),
        ('{"models": [{"pattern": "x", "input": -1}]}', "model 1: input must not be negative"),
        ('{"models": [{"pattern": "x", "input": "cheap"}]}', "model 1: input must be a number"),
        ('{"models": [{"pattern": "x", "context": 0}]}', "model 1: context must be a whole"),
        ('{"models": [{"pattern": "x", "output": NaN}]}', "model 1: output must be a number"),
        ('{"models": [{"pattern": "' + "*a" * 101 + '"}]}', "model 1: the pattern is longer"),
    ],
)
def test_a_broken_file_says_what_is_wrong_and_the_shipped_prices_stay(
    tmp_path: Path, text: str, words: str
) -> None:
    (tmp_path / FILE_NAME).write_text(text, encoding="utf-8")
    table = load_prices(tmp_path)
    assert table.problem is not None and words in table.problem
    assert str(tmp_path / FILE_NAME) in table.problem
    assert table.problem.endswith("The shipped prices are used until it is fixed.")
    assert table.cost("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)


def test_a_folder_a_pipe_a_huge_or_binary_file_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.mkdir()
    assert "not a regular file" in str(load_prices(tmp_path).problem)
    path.rmdir()
    os.mkfifo(path)  # opening it to read would wait for a writer forever
    assert "not a regular file" in str(load_prices(tmp_path).problem)
    path.unlink()
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    assert "larger than" in str(load_prices(tmp_path).problem)
    path.write_bytes(b'{"models": [{"pattern": "\xff"}]}')
    assert "not UTF-8" in str(load_prices(tmp_path).problem)
    path.unlink()
    path.symlink_to(tmp_path / "gone.json")  # a dangling link: as if there were none
    assert load_prices(tmp_path).problem is None


def test_an_edit_of_the_file_counts_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatdesk.prices.RECHECK_S", 0.0)
    book = PriceBook(tmp_path)
    assert book.table().cost("acme/x", 1_000_000, 0) is None
    path = _override(tmp_path, [{"pattern": "acme/*", "input": 4.0, "output": 8.0}])
    assert book.table().cost("acme/x", 1_000_000, 0) == pytest.approx(4.0)
    path.write_text("{oops", encoding="utf-8")
    assert book.table().problem is not None
    path.unlink()
    assert book.table().problem is None


def _pricing(tmp_path: Path, settings: Mapping[str, Any]) -> Pricing:
    return Pricing(tmp_path, read_settings=lambda: settings)


def test_a_model_served_where_the_settings_point_takes_their_base_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LM Studio's models are ``openai/...`` at a local base URL: they cost nothing."""
    pricing = _pricing(
        tmp_path, {"model": "openai/qwen2.5", "base_url": "http://127.0.0.1:1234/v1"}
    )
    usage = pricing.reply_usage(RunTokens("openai/qwen2.5", 1200, 300))
    assert usage is not None and usage.cost == 0.0
    assert (usage.tokens_in, usage.tokens_out, usage.model) == (1200, 300, "openai/qwen2.5")
    assert pricing.cost("anthropic/claude-3-haiku", 1_000_000, 0) == pytest.approx(0.25)
    monkeypatch.setenv(ENV_MODEL, "openai/gpt-4o")
    monkeypatch.setenv(ENV_BASE_URL, "http://localhost:9999/v1")
    assert pricing.cost("openai/gpt-4o", 1000, 1000) == 0.0
    assert pricing.next_model(None) == "openai/gpt-4o"


def test_reply_usage_without_tokens_or_model(tmp_path: Path) -> None:
    pricing = _pricing(tmp_path, {})
    assert pricing.reply_usage(None) is None
    assert pricing.reply_usage(RunTokens("openai/gpt-4o", None, None)) is None
    usage = pricing.reply_usage(RunTokens(None, 10, None))
    assert usage is not None and (usage.tokens_in, usage.tokens_out, usage.cost) == (10, 0, None)


def test_chat_totals_add_up_models_and_keep_unpriced_tokens_apart(tmp_path: Path) -> None:
    totals = _pricing(tmp_path, {}).totals(
        [
            ModelTotals("openai/gpt-4o-mini", 1_000_000, 1_000_000, 3),
            ModelTotals("ollama/llama3.2", 5_000, 500, 2),
            ModelTotals("acme/x", 70, 30, 1),
            ModelTotals(None, 0, 0, 1),
        ]
    )
    assert (totals.tokens_in, totals.tokens_out) == (1_005_070, 1_000_530)
    assert totals.cost == pytest.approx(0.75)
    assert totals.unpriced == 100


def test_tokens_are_estimated_from_characters_by_one_rule() -> None:
    assert [estimate_tokens(n) for n in (0, 1, 4, 5, 12_000)] == [0, 1, 1, 2, 3_000]


def test_the_meter_warns_before_trimming_and_says_when_it_trims() -> None:
    assert ContextFill(1_000, 12_000, 128_000).state is Fill.OK
    almost = ContextFill(10_000, 12_000, 128_000)
    assert almost.state is Fill.WARNING and almost.fraction == pytest.approx(2_500 / 3_000)
    over = ContextFill(20_000, 12_000, 128_000)
    assert over.state is Fill.TRIMMED and (over.sent_chars, over.tokens) == (12_000, 3_000)
    small_window = ContextFill(10_000, 12_000, 2_048)  # a small local model fills first
    assert small_window.limit_tokens == 2_048 and small_window.state is Fill.WARNING
    assert ContextFill(4_000, 12_000, None).limit_tokens == 3_000


def test_the_meter_uses_the_next_run_s_model_window(tmp_path: Path) -> None:
    pricing = _pricing(tmp_path, {"model": "openai/gpt-4o-mini"})
    fill = pricing.context_fill(None, HistorySize(chars=400, messages=2), 12_000)
    assert (fill.window_tokens, fill.budget_chars, fill.tokens) == (128_000, 12_000, 100)


def test_settings_are_read_again_once_they_changed(tmp_path: Path) -> None:
    settings = {"model": "openai/qwen2.5", "base_url": "https://api.example.com/v1"}
    pricing = _pricing(tmp_path, settings)
    assert pricing.cost("openai/qwen2.5", 1000, 1000) is None  # remote, unknown price
    settings["base_url"] = "http://127.0.0.1:1234/v1"  # LM Studio chosen in Settings
    pricing.forget_settings()
    assert pricing.cost("openai/qwen2.5", 1000, 1000) == 0.0


def test_a_damaged_installation_has_no_prices_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatdesk.prices.shipped_path", lambda: tmp_path / "missing.json")
    table = load_prices(tmp_path)
    assert table.prices == () and "shipped price table cannot be read" in str(table.problem)
    assert table.cost("openai/gpt-4o", 10, 10) is None
    assert table.cost("ollama/llama3.2", 10, 10) == 0.0
