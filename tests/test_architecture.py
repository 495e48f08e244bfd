"""The code's shape (issue 14): no import cycle among the modules of governance/, workers/ and models_core/,
and no module of governance/ or models_core/ longer than 450 lines. The layer order itself is the
import-linter `layers` contract in .importlinter (`make lint`).

The graph is grimp's, import-linter's own: every import statement counts, those inside functions and under
TYPE_CHECKING too, so a cycle cannot hide in a function body. Migrations are left out (Django loads them by
name; they import only their own app's history and Django).
"""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("governance", "workers", "models_core")
MAX_LINES = 450


def _graph() -> grimp.ImportGraph:
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    for module in list(graph.modules):
        if ".migrations" in module and module in graph.modules:
            graph.remove_module(module)
    return graph


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
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
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
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
                    components.append(sorted(component))
    return sorted(components)


def test_no_import_cycle_among_governance_workers_and_models_core():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (modules that import each other, directly or through others):\n" + "\n".join(
        f"  {len(c)}: {', '.join(c)}" for c in cycles)


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function_body():
    graph = grimp.ImportGraph()
    for module in ("a", "a.low", "a.high", "a.other"):
        graph.add_module(module)
    graph.add_import(importer="a.high", imported="a.low", line_number=1, line_contents="import a.low")
    graph.add_import(importer="a.low", imported="a.high", line_number=9, line_contents="    import a.high")
    graph.add_import(importer="a.other", imported="a.low", line_number=1, line_contents="import a.low")
    assert _cycles(graph) == [["a.high", "a.low"]]


def test_no_module_of_governance_or_models_core_is_longer_than_450_lines():
    long = {}
    for package in ("governance", "models_core"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.relative_to(ROOT).parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long[str(path.relative_to(ROOT))] = lines
    assert not long, f"longer than {MAX_LINES} lines (split by concern): {long}"
