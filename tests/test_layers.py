"""The layout shows the architecture: lower layers never import upper ones, and no module imports
itself back through others (no import cycles), at module level or inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "durable", "gateway", "nodes", "scenarios", "teams")

# What each layer may import from the project, lowest first. A package not named here is not allowed.
ALLOWED: dict[str, tuple[str, ...]] = {
    "durable": ("durable",),
    "teams": ("teams",),
    "nodes": ("nodes", "teams"),
    "scenarios.runtime": ("scenarios.runtime", "scenarios", "nodes", "durable", "teams"),
    "scenarios.views": ("scenarios", "nodes", "durable", "teams", "gateway"),
    "gateway": ("gateway", "nodes", "durable", "teams"),
    # the account and team pages sit on top, beside the editor's views
    "teams.pages": ("teams", "scenarios", "gateway", "nodes", "durable"),
}
TEAMS_PAGES = ("teams.admin", "teams.urls", "teams.context_processors", "teams.management")
# The domain package (models, graph, snapshot, canvas, import/export) sits below its runtime and views.
DOMAIN_FORBIDDEN = ("scenarios.runtime", "scenarios.views", "gateway")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


MODULES = project_modules()


def imports_of(name: str) -> set[str]:
    """Project modules `name` imports, wherever in the file the import statement stands."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> str:
    if inside(name, TEAMS_PAGES) or (name.startswith("teams.") and name.endswith("_views")):
        return "teams.pages"
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if name == layer or name.startswith(layer + "."):
            return layer
    return name.split(".")[0]


def inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_layout_names_the_engine_the_executor_the_node_types_the_webhooks_and_the_views() -> None:
    for module in (
        "scenarios.runtime.engine",
        "durable.executor",
        "nodes.types",
        "scenarios.runtime.webhooks",
        "scenarios.views.editor",
    ):
        assert module in MODULES, module


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if layer_of(name) == layer
        for target in imports_of(name)
        if not inside(target, ALLOWED[layer])
        # scenarios.runtime may use the domain package scenarios.* but not the views
        or (layer == "scenarios.runtime" and inside(target, ("scenarios.views",)))
    )
    assert not wrong, "\n".join(wrong)


def test_the_scenario_domain_never_imports_its_runtime_views_or_the_gateway() -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if layer_of(name) == "scenarios"
        and not inside(name, ("scenarios.management", "scenarios.urls", "scenarios.apps"))
        for target in imports_of(name)
        if inside(target, DOMAIN_FORBIDDEN)
    )
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_back_through_others() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
