"""The module graph of followupd/, read from the source with `ast`: no import cycles
(lazy imports inside functions count: a loop made lazy is still a loop, and a sign a
helper lives in the wrong module), and the pure core (followupd/policy/) imports no
I/O. Imports under `if TYPE_CHECKING:` never run, so they are left out."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "followupd"

# Import edges that close a cycle and are tolerated while a branch breaks it (none
# now). The test fails when an entry is no longer needed, so the list only shrinks.
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}

# Layering: a lower layer never imports a higher one, cycle or not. (module prefix,
# forbidden import prefix) → why.
LAYERS: dict[tuple[str, str], str] = {
    ("followupd.notify", "followupd.engine"): "notify runs a command; the engine's Notice belongs in model",
    ("followupd.calendars", "followupd.detect"): "a calendar source reads events; detecting interviews is the engine's",
    ("followupd.calendars", "followupd.app"): "backends never import the wiring",
    ("followupd.mailboxes", "followupd.app"): "backends never import the wiring",
    ("followupd.google", "followupd.app"): "backends never import the wiring",
    ("followupd.policy", "followupd.store"): "the core is pure",
    ("followupd.policy", "followupd.config"): "the core takes settings, not the loader's types",
    ("followupd.secrets", "followupd.app"): "backends never import the wiring",
}
# Layering breaches tolerated while a branch removes them (none now); same rule.
KNOWN_LAYER_BREACHES: set[tuple[str, str]] = set()

# The pure core: no files, sockets, processes, clocks or databases.
CORE = "followupd.policy"
IO_MODULES = {
    "sqlite3",
    "fcntl",
    "socket",
    "subprocess",
    "os",
    "pathlib",
    "shutil",
    "tempfile",
    "select",
    "ssl",
    "http",
    "urllib",
    "time",
    "threading",
}
# followupd modules the core may import: values, errors, the text cleaners. Everything
# else in followupd/ is a backend, the store, the config loader (files), the clock or wiring.
CORE_MAY_IMPORT = {"followupd", "followupd.model", "followupd.errors", "followupd.text"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            yield from (n for child in node.orelse for n in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif isinstance(node, ast.If) and _type_checking(node):
        for child in node.orelse:
            yield from _imports_in(child)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _imports_in(child)


def imported(module: str) -> set[str]:
    """Every module `module` imports, anywhere in it (top level or inside a function)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    # Backends named in a registry ("followupd.mailboxes.imap:ImapMailbox") and loaded
    # with importlib are imports too, made lazy by design.
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            target = node.value.partition(":")[0]
            if target.startswith("followupd.") and target in MODULES:
                names.add(target)
    return names


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        targets = set()
        for name in imported(module):
            # A backend importing its own package (the ABC it implements, which also
            # picks the backend by kind) is the package's interface, not a loop.
            if name in MODULES and name != module and not module.startswith(name + "."):
                targets.add(name)
        edges[module] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _without_known(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {a: {b for b in bs if (a, b) not in KNOWN_CYCLE_EDGES} for a, bs in edges.items()}


def test_no_import_cycles() -> None:
    edges = graph()
    remaining = cycles(_without_known(edges))
    detail = [
        f"{' ↔ '.join(c)}: " + ", ".join(f"{a} → {b}" for a in c for b in sorted(edges[a]) if b in c) for c in remaining
    ]
    assert remaining == [], "import cycles:\n  " + "\n  ".join(detail)


def test_the_known_cycle_list_only_names_cycles_that_still_exist() -> None:
    edges = graph()
    components = cycles(edges)
    stale = [
        f"{a} → {b}"
        for a, b in KNOWN_CYCLE_EDGES
        if b not in edges.get(a, set()) or not any(a in c and b in c for c in components)
    ]
    assert stale == [], "no longer a cycle: remove from KNOWN_CYCLE_EDGES: " + ", ".join(stale)


def test_the_scan_sees_lazy_imports() -> None:
    # cli imports the daemon only inside `_run`, the demo only inside `_dispatch`.
    assert {"followupd.daemon", "followupd.demo"} <= graph()["followupd.cli"]


def _core() -> list[str]:
    return [m for m in MODULES if m == CORE or m.startswith(CORE + ".")]


def test_the_core_imports_no_io() -> None:
    assert _core(), "followupd/policy/ is the decision core; this test has nothing to check without it"
    bad = []
    for module in _core():
        for name in sorted(imported(module)):
            top = name.split(".")[0]
            inside = name in CORE_MAY_IMPORT or name == CORE or name.startswith(CORE + ".") or name not in MODULES
            if top in IO_MODULES or (top == "followupd" and not inside):
                bad.append(f"{module} imports {name}")
    assert bad == [], "the core must stay pure:\n  " + "\n  ".join(bad)


def breaches() -> set[tuple[str, str]]:
    found = set()
    for module, targets in graph().items():
        for (low, high), _why in LAYERS.items():
            if module == low or module.startswith(low + "."):
                found.update((module, t) for t in targets if t == high or t.startswith(high + "."))
    return found


def test_layers() -> None:
    new = sorted(breaches() - KNOWN_LAYER_BREACHES)
    assert new == [], "a lower layer imports a higher one: " + ", ".join(f"{a} → {b}" for a, b in new)


def test_the_known_breach_list_only_names_breaches_that_still_exist() -> None:
    stale = sorted(KNOWN_LAYER_BREACHES - breaches())
    assert stale == [], "fixed: remove from KNOWN_LAYER_BREACHES: " + ", ".join(f"{a} → {b}" for a, b in stale)


def test_no_print_outside_the_cli() -> None:
    # The CLI layer (cli.py, and the demo, which is a CLI command telling a story) writes
    # to the terminal; everything else logs or returns what to say.
    allowed = {"followupd.cli", "followupd.demo"}
    printing = sorted(
        module
        for module, path in MODULES.items()
        if module not in allowed
        and any(
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert printing == []


# What `followupd --help` must not pay for: the backends' clients and the libraries
# behind templates, calendars, scheduling and secrets are imported by the commands
# that use them (DESIGN.md: "followupd --help never pays for the Google client").
HEAVY = (
    "googleapiclient",
    "google.auth",
    "imapclient",
    "caldav",
    "icalendar",
    "jinja2",
    "dateparser",
    "tldextract",
    "apscheduler",
    "keyring",
    "recurring_ical_events",
)

_HELP_THEN_MODULES = """\
import json, sys
import followupd.cli
try:
    followupd.cli.main(["--help"])
except SystemExit:
    pass
print(json.dumps({"cli": followupd.cli.__file__, "modules": sorted(sys.modules)}))
"""


def test_help_imports_no_heavy_library() -> None:
    root = PACKAGE.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", _HELP_THEN_MODULES], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    seen = json.loads(result.stdout.splitlines()[-1])
    assert Path(seen["cli"]).resolve() == PACKAGE / "cli.py"  # this tree, not an installed copy
    assert "usage: followupd" in result.stdout
    loaded = [h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in seen["modules"])]
    assert loaded == [], "`followupd --help` imported: " + ", ".join(loaded)
