"""Crew definitions: CrewAI-style YAML folders (``agents.yaml`` + ``tasks.yaml``).

Why YAML and not Python: people add crews by dropping a folder into
``<data dir>/crews/<name>/`` the way CrewAI projects describe them, and the GUI can
list them by parsing YAML alone, without importing CrewAI (this module never does).
The worker turns a :class:`CrewSpec` into real CrewAI objects
(:mod:`chatdesk.engine.crew_builder`).

The defaults ship in ``resources/crews/``: ``assistant`` (one agent answering the
latest message given the trimmed thread history and the thread's system prompt)
and ``research-writer`` (a researcher, then a writer, sequentially). A folder in the
data dir with the same name overrides a default.

Layout of a crew folder::

    crew.yaml     optional: title, description, llm (the crew's default model settings:
                  temperature, top_p, max_tokens, context_tokens, reasoning_effort;
                  a chat's own value overrides each, see chatdesk.model_params)
    agents.yaml   <agent key>: {role, goal, backstory, max_iter?, tools?}
    tasks.yaml    <task key>: {description, expected_output, agent}   (run in file order)

Texts may use the placeholders in :data:`CREW_INPUTS`. A broken file gives a
:class:`CrewDefinitionError` naming the file and line; other crews are unaffected.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chatdesk.model_params import NO_PARAMS, ModelParamError, ModelParams

# The placeholders chatdesk fills for every run (see chatdesk.engine.crew_builder).
CREW_INPUTS: dict[str, str] = {
    "message": "the user's latest message",
    "history": "the conversation before it, trimmed to a budget",
    "system_prompt": "the thread's system prompt (or a default)",
    "date": "today's date, ISO format",
}
# CrewAI's own placeholder syntax (crewai/utilities/string_utils.py).
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

AGENT_KEYS = ("role", "goal", "backstory")
TASK_KEYS = ("description", "expected_output")
# ``tools`` names MCP servers of mcp.json (``server``), single tools (``server/tool``) and
# chatdesk's built-in tools (``chatdesk/<name>``); an agent without the key gets every
# enabled server's tools, ``tools: []`` none. Other CrewAI fields (llm, ...) are ignored
# with a warning: the model comes from chatdesk settings.
_OPTIONAL_AGENT_KEYS = frozenset({"max_iter", "tools"})
_TOOL_REF = re.compile(r"^[^/\s]{1,100}(/[^/\s]{1,200})?$")
_OPTIONAL_TASK_KEYS = frozenset({"agent"})


class CrewDefinitionError(Exception):
    """A crew folder that cannot be used; ``str()`` reads ``file:line: problem``."""

    def __init__(self, problem: str, path: Path | None = None, line: int | None = None):
        self.problem = problem
        self.path = path
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return where + self.problem


@dataclass(frozen=True)
class AgentSpec:
    key: str
    role: str
    goal: str
    backstory: str
    max_iter: int | None = None
    tools: tuple[str, ...] | None = None  # None: every enabled server's tools


@dataclass(frozen=True)
class TaskSpec:
    key: str
    description: str
    expected_output: str
    agent: str


@dataclass(frozen=True)
class CrewSpec:
    """A parsed, validated crew definition (no CrewAI objects)."""

    name: str
    title: str
    description: str
    agents: tuple[AgentSpec, ...]
    tasks: tuple[TaskSpec, ...]
    directory: Path
    builtin: bool = False
    warnings: tuple[str, ...] = ()
    model_defaults: ModelParams = NO_PARAMS
    """The ``llm:`` of ``crew.yaml``: what a chat of this crew uses unless it says."""

    def agent(self, key: str) -> AgentSpec:
        for spec in self.agents:
            if spec.key == key:
                return spec
        raise KeyError(key)


@dataclass(frozen=True)
class CrewInfo:
    """What the GUI shows in a crew picker; ``error`` is set for a broken crew."""

    name: str
    title: str
    description: str
    directory: Path
    builtin: bool
    agents: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.error is None


@dataclass
class CrewCatalog:
    """Every crew found: the good ones and, separately, why the others are broken."""

    specs: dict[str, CrewSpec] = field(default_factory=dict)
    errors: dict[str, CrewDefinitionError] = field(default_factory=dict)

    def get(self, name: str) -> CrewSpec:
        """The crew called ``name``; :class:`CrewDefinitionError` if broken or unknown."""
        if name in self.specs:
            return self.specs[name]
        if name in self.errors:
            error = self.errors[name]
            raise CrewDefinitionError(
                f"crew {name!r} is broken: {error.problem}", error.path, error.line
            )
        known = ", ".join(sorted(self.specs)) or "none"
        raise CrewDefinitionError(f"unknown crew {name!r} (available: {known})")


# ---------------------------------------------------------------------------
# Where crews live
# ---------------------------------------------------------------------------


def default_crews_dir() -> Path:
    """The shipped default crews: the repository's ``resources/crews``, installed as
    ``chatdesk.resources`` (imported by name so both layouts work)."""
    package = importlib.import_module("chatdesk.resources")
    assert package.__file__ is not None
    return Path(package.__file__).parent / "crews"


def user_crews_dir(data_dir: Path) -> Path:
    return data_dir / "crews"


def crew_search_path(data_dir: Path | None) -> list[Path]:
    """Defaults first, then the user's folder (later folders override earlier ones)."""
    dirs = [default_crews_dir()]
    if data_dir is not None:
        dirs.append(user_crews_dir(data_dir))
    return dirs


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


class CatalogCache:
    """The crew catalog, read again only when a crew file is added, changed or removed.

    Parsing the YAML costs several milliseconds, which every reply would otherwise
    wait for before its crew starts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._catalog: CrewCatalog | None = None

    def get(self, search_path: list[Path]) -> CrewCatalog:
        key = _fingerprint(search_path)
        with self._lock:
            if self._catalog is None or key != self._key:
                self._catalog = load_catalog(search_path)
                self._key = key
            return self._catalog


def _fingerprint(search_path: list[Path]) -> tuple[object, ...]:
    """Every crew file under the search path with its size and modification time."""
    items: list[object] = []
    for root in search_path:
        if not root.is_dir():
            items.append((str(root), None))
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file():
                stat = path.stat()
                items.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(items)


def load_catalog(search_path: Iterable[Path]) -> CrewCatalog:
    """Load every crew folder under each directory; a broken one never stops the others."""
    catalog = CrewCatalog()
    default_dir = default_crews_dir().resolve()
    for root in search_path:
        if not root.is_dir():
            continue
        builtin = root.resolve() == default_dir
        for directory in sorted(p for p in root.iterdir() if p.is_dir()):
            if directory.name.startswith((".", "_")):
                continue
            name = directory.name
            try:
                spec = load_crew(directory, builtin=builtin)
            except CrewDefinitionError as error:
                catalog.specs.pop(name, None)
                catalog.errors[name] = error
            else:
                catalog.errors.pop(name, None)
                catalog.specs[name] = spec
    return catalog


def list_crews(
    data_dir: Path | None = None, search_path: Iterable[Path] | None = None
) -> list[CrewInfo]:
    """All crews, usable ones and broken ones (with their error), sorted by name.

    Cheap enough for the GUI thread (a few small YAML files) and never imports CrewAI.
    """
    catalog = load_catalog(search_path if search_path is not None else crew_search_path(data_dir))
    infos = [
        CrewInfo(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            directory=spec.directory,
            builtin=spec.builtin,
            agents=tuple(a.role for a in spec.agents),
            tasks=tuple(t.key for t in spec.tasks),
            warnings=spec.warnings,
        )
        for spec in catalog.specs.values()
    ]
    infos += [
        CrewInfo(
            name=name,
            title=name,
            description="",
            directory=error.path.parent if error.path else Path(name),
            builtin=False,
            error=str(error),
        )
        for name, error in catalog.errors.items()
    ]
    return sorted(infos, key=lambda info: info.name)


def _tool_refs(
    entry: Mapping[str, Any], path: Path, line: int | None, what: str
) -> tuple[str, ...] | None:
    if "tools" not in entry:
        return None
    value = entry["tools"]
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(ref, str) and _TOOL_REF.match(ref.strip()) for ref in value
    ):
        raise CrewDefinitionError(
            f"{what}: 'tools' must be a list of 'server' or 'server/tool' names", path, line
        )
    return tuple(dict.fromkeys(ref.strip() for ref in value))


def load_crew(directory: Path, *, builtin: bool = False) -> CrewSpec:
    """Parse and validate one crew folder."""
    name = directory.name
    if not _NAME.match(name):
        raise CrewDefinitionError(f"invalid crew folder name {name!r}", directory)
    warnings: list[str] = []
    meta, meta_lines = _load_mapping(directory / "crew.yaml", required=False)
    try:
        model_defaults = ModelParams.from_dict(meta.get("llm"), "llm")
    except ModelParamError as error:
        raise CrewDefinitionError(
            str(error), directory / "crew.yaml", meta_lines.get("llm")
        ) from None
    agents_path = directory / "agents.yaml"
    tasks_path = directory / "tasks.yaml"
    agents_raw, agent_lines = _load_mapping(agents_path, required=True)
    tasks_raw, task_lines = _load_mapping(tasks_path, required=True)

    agents: list[AgentSpec] = []
    for key, value in agents_raw.items():
        line = agent_lines.get(key)
        entry = _entry(value, agents_path, line, f"agent {key!r}")
        texts = {k: _text(entry, k, agents_path, line, f"agent {key!r}") for k in AGENT_KEYS}
        for text in texts.values():
            _check_placeholders(text, agents_path, line, f"agent {key!r}")
        max_iter = entry.get("max_iter")
        if max_iter is not None and (
            not isinstance(max_iter, int) or isinstance(max_iter, bool) or max_iter < 1
        ):
            raise CrewDefinitionError(
                f"agent {key!r}: 'max_iter' must be a positive integer", agents_path, line
            )
        tools = _tool_refs(entry, agents_path, line, f"agent {key!r}")
        warnings += _unknown_keys(entry, AGENT_KEYS, _OPTIONAL_AGENT_KEYS, agents_path, line, key)
        agents.append(AgentSpec(key=str(key), max_iter=max_iter, tools=tools, **texts))
    if not agents:
        raise CrewDefinitionError("no agents defined", agents_path)

    tasks: list[TaskSpec] = []
    agent_keys = {a.key for a in agents}
    for key, value in tasks_raw.items():
        line = task_lines.get(key)
        entry = _entry(value, tasks_path, line, f"task {key!r}")
        texts = {k: _text(entry, k, tasks_path, line, f"task {key!r}") for k in TASK_KEYS}
        for text in texts.values():
            _check_placeholders(text, tasks_path, line, f"task {key!r}")
        agent = entry.get("agent")
        if agent is None and len(agents) == 1:
            agent = agents[0].key
        if not isinstance(agent, str) or agent not in agent_keys:
            raise CrewDefinitionError(
                f"task {key!r}: 'agent' must name one of the agents in agents.yaml "
                f"({', '.join(sorted(agent_keys))})",
                tasks_path,
                line,
            )
        warnings += _unknown_keys(entry, TASK_KEYS, _OPTIONAL_TASK_KEYS, tasks_path, line, key)
        tasks.append(TaskSpec(key=str(key), agent=agent, **texts))
    if not tasks:
        raise CrewDefinitionError("no tasks defined", tasks_path)

    title = meta.get("title") if isinstance(meta.get("title"), str) else None
    description = meta.get("description") if isinstance(meta.get("description"), str) else None
    return CrewSpec(
        name=name,
        title=(title or name.replace("-", " ").replace("_", " ").capitalize()).strip(),
        description=(description or "").strip(),
        agents=tuple(agents),
        tasks=tuple(tasks),
        directory=directory,
        builtin=builtin,
        warnings=tuple(warnings),
        model_defaults=model_defaults,
    )


def _load_mapping(path: Path, *, required: bool) -> tuple[dict[str, Any], dict[str, int]]:
    """A YAML file's top-level mapping plus the 1-based line of each key."""
    if not path.is_file():
        if required:
            raise CrewDefinitionError(f"missing {path.name}", path)
        return {}, {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CrewDefinitionError(f"cannot read file: {exc}", path) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise CrewDefinitionError(f"invalid YAML: {problem}{column}", path, line) from exc
    except yaml.YAMLError as exc:
        raise CrewDefinitionError(f"invalid YAML: {exc}", path) from exc
    if data is None:
        if required:
            raise CrewDefinitionError("the file is empty", path, 1)
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else 1
        raise CrewDefinitionError("expected a mapping of names to entries", path, line)
    lines = {
        str(key_node.value): key_node.start_mark.line + 1
        for key_node, _ in node.value
        if isinstance(key_node, yaml.ScalarNode)
    }
    return {str(k): v for k, v in data.items()}, lines


def _entry(value: Any, path: Path, line: int | None, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CrewDefinitionError(f"{what} must be a mapping of fields", path, line)
    return value


def _text(entry: Mapping[str, Any], key: str, path: Path, line: int | None, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CrewDefinitionError(f"{what}: {key!r} must be a non-empty text", path, line)
    return value.strip()


def _check_placeholders(text: str, path: Path, line: int | None, what: str) -> None:
    unknown = sorted({m for m in _PLACEHOLDER.findall(text) if m not in CREW_INPUTS})
    if unknown:
        names = ", ".join("{" + u + "}" for u in unknown)
        known = ", ".join("{" + k + "}" for k in CREW_INPUTS)
        raise CrewDefinitionError(
            f"{what}: unknown placeholder {names} (chatdesk provides {known})", path, line
        )


def _unknown_keys(
    entry: Mapping[str, Any],
    required: Iterable[str],
    optional: frozenset[str],
    path: Path,
    line: int | None,
    key: str,
) -> list[str]:
    allowed = set(required) | optional
    ignored = sorted(str(k) for k in entry if k not in allowed)
    if not ignored:
        return []
    return [f"{path.name}:{line}: {key}: ignored unsupported field(s) {', '.join(ignored)}"]
