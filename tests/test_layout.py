"""The package's structure: no import circles, no module using another's
private names (function-local imports included)."""

import ast
from pathlib import Path

import sklearn_fm

PACKAGE = Path(sklearn_fm.__file__).parent


def internal_imports():
    """{module: [(imported module, [names])]} of every relative import in the
    package, wherever in the module it is written."""
    imports = {}
    for path in PACKAGE.glob("*.py"):
        module = path.stem
        imports[module] = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module is None:  # from . import name: a submodule or __init__'s
                    for alias in node.names:
                        if (PACKAGE / f"{alias.name}.py").exists():
                            imports[module].append((alias.name, []))
                        else:
                            imports[module].append(("__init__", [alias.name]))
                else:
                    imports[module].append((node.module, [a.name for a in node.names]))
    return imports


def test_no_module_imports_another_modules_private_names():
    private = [
        (module, target, name)
        for module, targets in internal_imports().items()
        for target, names in targets
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_modules_import_each_other_without_circles():
    graph = {
        module: {target for target, _ in targets if target != "__init__"}
        for module, targets in internal_imports().items()
        if module != "__init__"
    }
    # Depth-first search for a path back to where it started.
    def cycle_from(start):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for target in graph.get(node, ()):
                if target == start:
                    return path + [target]
                if target not in path:
                    stack.append((target, path + [target]))
        return None

    cycles = [cycle for cycle in map(cycle_from, graph) if cycle]
    assert cycles == []
    # Only the package's __init__ imports from it: `from . import x` of a
    # submodule would count as importing __init__ first.
    assert not any(target == "__init__" for targets in internal_imports().values() for target, _ in targets)
