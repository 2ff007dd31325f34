"""Crew folders: the defaults load, broken files are named with their line, others still work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chatdesk.engine.crews import (
    CatalogCache,
    CrewDefinitionError,
    crew_search_path,
    default_crews_dir,
    list_crews,
    load_catalog,
    load_crew,
)

GOOD_AGENTS = """\
helper:
  role: Helper
  goal: Help with {message}
  backstory: "{system_prompt}"
"""
GOOD_TASKS = """\
reply:
  description: "History: {history} Message: {message}"
  expected_output: A reply
  agent: helper
"""


def make_crew(root: Path, name: str, agents: str = GOOD_AGENTS, tasks: str = GOOD_TASKS) -> Path:
    folder = root / "crews" / name
    folder.mkdir(parents=True)
    (folder / "agents.yaml").write_text(agents, encoding="utf-8")
    (folder / "tasks.yaml").write_text(tasks, encoding="utf-8")
    return folder


def test_defaults_ship_assistant_and_research_writer() -> None:
    infos = {info.name: info for info in list_crews()}
    assert {"assistant", "research-writer"} <= set(infos)
    assert infos["assistant"].usable and infos["assistant"].builtin
    assert infos["assistant"].agents == ("Assistant",)
    assert infos["research-writer"].agents == ("Researcher", "Writer")
    assert infos["research-writer"].tasks == ("research", "write")
    assert all(not info.warnings for info in infos.values())


def test_user_crews_are_listed_and_override_defaults(tmp_path: Path) -> None:
    make_crew(tmp_path, "extra")
    make_crew(tmp_path, "assistant")  # same name as a default: the user's wins
    infos = {info.name: info for info in list_crews(tmp_path)}
    assert infos["extra"].usable and not infos["extra"].builtin
    assert infos["assistant"].agents == ("Helper",)
    assert not infos["assistant"].builtin


def test_broken_yaml_names_file_and_line_and_others_still_work(tmp_path: Path) -> None:
    make_crew(tmp_path, "good")
    broken = make_crew(
        tmp_path,
        "broken",
        agents=GOOD_AGENTS + "second:\n  role: [unclosed\n  goal: x\n",
    )
    infos = {info.name: info for info in list_crews(tmp_path)}
    assert infos["good"].usable and infos["assistant"].usable
    error = infos["broken"].error
    assert error is not None
    assert str(broken / "agents.yaml") in error
    assert ":6:" in error or ":7:" in error  # the flow sequence opened on line 6 is never closed
    catalog = load_catalog(crew_search_path(tmp_path))
    with pytest.raises(CrewDefinitionError, match="broken") as caught:
        catalog.get("broken")
    assert caught.value.path == broken / "agents.yaml"
    assert caught.value.line in (6, 7)
    assert catalog.get("good").name == "good"


@pytest.mark.parametrize(
    ("agents", "tasks", "file", "line", "problem"),
    [
        (GOOD_AGENTS.replace("  role: Helper\n", ""), GOOD_TASKS, "agents.yaml", 1, "'role'"),
        (
            GOOD_AGENTS,
            GOOD_TASKS.replace("agent: helper", "agent: nobody"),
            "tasks.yaml",
            1,
            "agent",
        ),
        (GOOD_AGENTS, GOOD_TASKS.replace("{history}", "{weather}"), "tasks.yaml", 1, "{weather}"),
        ("- just\n- a list\n", GOOD_TASKS, "agents.yaml", 1, "mapping"),
        ("", GOOD_TASKS, "agents.yaml", 1, "empty"),
        (GOOD_AGENTS + "other: 3\n", GOOD_TASKS, "agents.yaml", 5, "mapping of fields"),
        (GOOD_AGENTS, "reply:\n\tdescription: tab\n", "tasks.yaml", 2, "invalid YAML"),
    ],
)
def test_problems_are_reported_with_file_and_line(
    tmp_path: Path, agents: str, tasks: str, file: str, line: int, problem: str
) -> None:
    folder = make_crew(tmp_path, "crew", agents, tasks)
    with pytest.raises(CrewDefinitionError) as caught:
        load_crew(folder)
    assert caught.value.path == folder / file
    assert caught.value.line == line
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{folder / file}:{line}: ")


def test_missing_tasks_file(tmp_path: Path) -> None:
    folder = make_crew(tmp_path, "crew")
    (folder / "tasks.yaml").unlink()
    with pytest.raises(CrewDefinitionError, match=r"missing tasks\.yaml"):
        load_crew(folder)


def test_unknown_fields_are_warnings(tmp_path: Path) -> None:
    folder = make_crew(tmp_path, "crew", agents=GOOD_AGENTS + "  llm: gpt-4\n")
    spec = load_crew(folder)
    assert spec.warnings and "llm" in spec.warnings[0]


def test_unknown_crew_lists_the_available_ones() -> None:
    with pytest.raises(CrewDefinitionError, match=r"unknown crew 'nope'.*assistant"):
        load_catalog([default_crews_dir()]).get("nope")


def test_listing_crews_does_not_import_crewai() -> None:
    code = (
        "import sys\n"
        "from chatdesk.engine.crews import list_crews\n"
        "assert list_crews()\n"
        "assert not any(m.startswith('crewai') for m in sys.modules), 'crewai imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_catalog_is_read_again_only_when_a_crew_file_changes(tmp_path: Path) -> None:
    cache = CatalogCache()
    path = crew_search_path(tmp_path)
    first = cache.get(path)
    assert cache.get(path) is first  # nothing changed: no YAML parsed again
    folder = make_crew(tmp_path, "extra")
    second = cache.get(path)
    assert second is not first and second.get("extra").agents[0].role == "Helper"
    (folder / "agents.yaml").write_text("helper: [unclosed\n", encoding="utf-8")
    with pytest.raises(CrewDefinitionError, match=r"agents\.yaml"):
        cache.get(path).get("extra")  # a broken edit is seen at once, with its file
