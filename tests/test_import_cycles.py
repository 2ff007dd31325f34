"""No import circles inside the window's package.

import-linter has no cycle contract in the installed version, so this test reads the
import graph with ``grimp`` (import-linter's own graph builder) and looks for strongly
connected modules. Imports under ``TYPE_CHECKING`` count: a circle of type hints is
still two modules that cannot be read, or moved, one without the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp

PACKAGE = "chatdesk.ui"


def import_circles(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The groups of two or more modules that import each other, round a circle
    (Tarjan's strongly connected components, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(imports.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(imports.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return circles


def _imports_within(graph: grimp.ImportGraph, package: str) -> dict[str, set[str]]:
    def inside(module: str) -> bool:
        return module == package or module.startswith(package + ".")

    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if inside(m)}
        for module in graph.modules
        if inside(module)
    }


def test_the_circle_finder_finds_a_circle() -> None:
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_circles(imports) == [["a", "b", "c"]]


def test_the_window_package_has_no_import_circle() -> None:
    graph = grimp.build_graph("chatdesk", include_external_packages=False)
    circles = import_circles(_imports_within(graph, PACKAGE))
    assert circles == [], "modules that import each other (break with a protocol): " + "; ".join(
        " <-> ".join(group) for group in circles
    )
