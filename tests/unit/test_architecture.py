"""The layout is the architecture: layers in pipeline order, one engine seam, small modules.

Read from the source (ast), so the rules hold for imports inside functions too, where dlenv
keeps its heavy imports off the start-up path.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "builder"

# Lower layers never import higher ones. Top-level vocabulary modules come first; a subpackage
# may import its own modules and anything in a lower layer.
LAYERS = [
    {"__init__", "errors", "events", "names", "paths", "defaults", "image_paths"},
    {"profile"},
    {"facts"},
    {"spec"},
    {"engine"},
    {"resolve"},
    {"render"},
    {"inputs"},
    {"smoke"},
    {"pin"},
    {"pipeline"},
    {"host"},
    {"dev"},
    {"cli", "entry", "__main__"},
]
SDK_MODULES = ("docker", "testcontainers", "requests", "urllib3")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_smoke" in path.parts or "_templates" in path.parts:
            continue
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports(path: Path) -> Iterator[tuple[str, int]]:
    """Every module this file imports (module level, in functions, under TYPE_CHECKING)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:  # `from builder.engine import resources` imports a module
                yield f"{node.module}.{alias.name}", node.lineno


def layer_of(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else "__init__"
    return next(i for i, names in enumerate(LAYERS) if top in names)


MODULES = dict(modules())


def builder_imports(module: str) -> set[str]:
    return {name for name, _ in imports(MODULES[module]) if name in MODULES and name != module}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)  # raises StopIteration for a subpackage nobody placed


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = []
    for module, path in MODULES.items():
        for name, line in imports(path):
            if name in MODULES and layer_of(name) > layer_of(module):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = {module: builder_imports(module) for module in MODULES}
    # Importing builder.x.y also imports the package builder.x: parents are edges too.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_only_the_engine_package_talks_to_docker() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name}"
        for module, path in MODULES.items()
        if not module.startswith("builder.engine")
        for name, line in imports(path)
        if name.split(".")[0] in SDK_MODULES
    ]
    assert not wrong, wrong
    docker_users = {
        module
        for module, path in MODULES.items()
        if any(name.split(".")[0] == "docker" for name, _ in imports(path))
    }
    assert docker_users == {"builder.engine.docker_engine"}


def test_subpackage_init_files_are_empty() -> None:
    """Start-up stays fast: importing builder.x never imports anything by itself."""
    loud = [str(p) for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE and p.read_text().strip()]
    assert not loud, loud


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for _, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_no_function_body_over_80_lines() -> None:
    long = []
    for _, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # The body: a command's option declarations are its signature, not its logic.
                length = (node.end_lineno or node.lineno) - node.body[0].lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({length} lines)"
                    )
    assert not long, long


def test_help_imports_neither_rich_nor_the_core() -> None:
    """`dlenv --help` should answer as fast as Typer allows: Rich and the pipeline stay unloaded."""
    probe = (
        "import sys\n"
        "sys.argv = ['dlenv', '--help']\n"
        "from builder.entry import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('rich', 'jinja2', 'builder.pipeline')\n"
        "loaded = [m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy))]\n"
        "print(','.join(sorted(loaded)), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Usage" in run.stdout
    assert run.stderr.strip() == ""
