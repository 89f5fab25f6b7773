"""The import graph of app/ has no cycle, not even inside one layer, and not through a lazy
import inside a function or one under TYPE_CHECKING (grimp sees those too).

The layers themselves (core < ocpi < tariffs < hub < modules < (ocpp | payments) < admin/web <
main/cli/demo) are import-linter's contract in pyproject.toml, run by `lint-imports` in CI.
"""

from __future__ import annotations

from pathlib import Path

import grimp

import app

ROOT = Path(app.__file__).parent


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_app_modules() -> None:
    graph = grimp.build_graph("app", cache_dir=None)
    assert cycles(graph) == []


def test_the_graph_holds_every_app_module() -> None:
    # A folder without __init__.py is a namespace package, which neither grimp nor import-linter
    # looks into: its imports would escape both checks.
    on_disk = {
        ".".join(("app", *f.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        for f in ROOT.rglob("*.py")
    }
    assert on_disk - grimp.build_graph("app", cache_dir=None).modules == set()


def test_a_cycle_through_a_lazy_import_is_found() -> None:
    # What the check above would see if a function in the hub imported payments again.
    graph = grimp.ImportGraph()
    for module in ("app.hub.relay", "app.payments.emsp", "app.modules.commands"):
        graph.add_module(module)
    graph.add_import(importer="app.payments.emsp", imported="app.modules.commands")
    graph.add_import(importer="app.modules.commands", imported="app.hub.relay")
    assert cycles(graph) == []
    graph.add_import(importer="app.hub.relay", imported="app.payments.emsp")
    assert cycles(graph) == [["app.hub.relay", "app.modules.commands", "app.payments.emsp"]]
