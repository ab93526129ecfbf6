"""The import rule of docs/architecture.md, read from the code: which layer may import which, and no
circles. Imports under ``if TYPE_CHECKING:`` do not count: they never run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("application", "models", "config")

# What each layer may import besides itself (and the standard library and third parties). An entry
# with a dot allows that one module only.
MAY_IMPORT = {
    "web": {"keys", "models", "config"},
    "cluster": {"web", "keys", "models", "config"},
    "services": {"cluster", "web", "keys", "models", "config"},
    # The view layers reach data and the cluster through the rules only; the clock is everyone's,
    # and the WeChat callback keeps its own table of deliveries (retries, used signed queries).
    "views": {"services", "web", "keys", "config", "models.clock"},
    "wechat": {"services", "web", "keys", "config", "models.clock", "models.wechat_message"},
    "routes": {"views", "wechat", "web", "keys"},
    "keys": {"models", "config"},  # the types of application/ only under TYPE_CHECKING
    "models": {"config"},
    "config": {"models.clock"},
}
WIRING = "factory"  # application/__init__.py: the one place that wires the layers together


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "application":
        return parts[0]
    if len(parts) == 1:
        return WIRING
    return parts[1]


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            yield from (grandchild for other in child.orelse for grandchild in _import_nodes_of(other))
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ours that ``path`` imports when it runs."""
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            assert node.level == 0 and node.module, f"{path}: relative import"
            # ``from package import module`` imports the module; ``from module import name`` the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in modules]
            names = names or [node.module]
        found |= {name for name in names if name.split(".")[0] in PACKAGES}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = our_modules()
    return {module: imports_of(path, modules) for module, path in modules.items()}


def allowed(source: str, target: str) -> bool:
    mine, theirs = layer(source), layer(target)
    if mine in (WIRING, theirs):
        return True
    permitted = MAY_IMPORT[mine]
    return theirs in permitted or target in permitted


def test_every_layer_imports_only_what_the_rule_allows() -> None:
    graph = import_graph()
    assert {layer(module) for module in graph} == {*MAY_IMPORT, WIRING}, "a module outside every layer"
    broken = sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if not allowed(source, target)
    )
    assert not broken, "\n".join(broken)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), and modules importing themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            group.append(module)
            if len(group) > 1 or module in graph.get(module, ()):
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_rule_is_read_as_written() -> None:
    """The checks above would pass vacuously if the graph came out empty or wrong."""
    graph = import_graph()
    assert "application.services.polls" in graph["application.views.questions"]
    assert "application.cluster.poll_cache" in graph["application.services.polls"]
    assert "application.cluster.live" not in graph["application.keys"]  # under TYPE_CHECKING there
    assert not allowed("application.web.rendering", "application.cluster.poll_cache")
    assert not allowed("application.views.questions", "models.question")
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
