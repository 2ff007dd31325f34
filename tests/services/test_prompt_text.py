"""Variables of a saved prompt: found once each, defaults kept, filled literally."""

from __future__ import annotations

from chatdesk.services.prompt_text import Variable, fill, variables


def test_variables_in_order_of_first_use_with_their_defaults() -> None:
    text = "{{ topic }} in a {{tone|friendly}} tone; {{topic}} again; {{n|}}{{tone|harsh}}"
    assert variables(text) == [Variable("topic"), Variable("tone", "friendly"), Variable("n")]


def test_a_later_default_counts_when_the_first_use_gave_none() -> None:
    assert variables("{{tone}} and {{tone|calm}}") == [Variable("tone", "calm")]


def test_braces_that_are_not_variables_stay_text() -> None:
    text = 'JSON {{"a": 1}}, empty {{}}, digit {{1x}}, broken {{a|b\nc}}, {single}'
    assert variables(text) == []
    assert fill(text, {}) == text


def test_fill_uses_values_then_defaults_and_never_fills_twice() -> None:
    text = "Write about {{topic}} in a {{tone|friendly}} tone. {{topic}}!"
    assert fill(text, {"topic": "{{tone}}"}) == "Write about {{tone}} in a friendly tone. {{tone}}!"
    assert fill(text, {"topic": "cats", "tone": ""}) == "Write about cats in a  tone. cats!"
