"""The package layout (docs/architecture.rst): imports point down the layers, no cycles, and
``import npgd`` pulls in no optional dependency."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "npgd"

#: Layer of each top-level part of npgd; an import may only point to a lower layer (or stay
#: inside its own package).
LAYERS = {"_util": 0, "_optional": 0, "backend": 0, "linops": 1, "priors": 2, "solvers": 3,
          "models": 4, "problems": 5, "train": 6, "experiments": 6, "cli": 7}


def module_name(path: Path) -> str:
    parts = ("npgd",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def resolve(name: str) -> str:
    """The module an import names: itself, or the package that holds the attribute."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports(mod: str) -> set[str]:
    """Every npgd module ``mod`` imports, at module level or inside functions."""
    path = MODULES[mod]
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {resolve(a.name) for a in node.names if a.name.split(".")[0] == "npgd"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.split(".")[0] == "npgd":
                found |= {resolve(f"{base}.{a.name}") for a in node.names}
    return found - {mod}


GRAPH = {m: imports(m) for m in MODULES}


def part(mod: str) -> str:
    return mod.split(".")[1] if "." in mod else "npgd"


def test_the_import_scanner_sees_function_level_and_relative_imports(tmp_path):
    assert "npgd.models.zoo" in GRAPH["npgd.problems"]  # inside pretrained()
    assert {"npgd.train.loop", "npgd.train.config"} <= GRAPH["npgd.cli"]
    assert "npgd.models.checkpoint" in GRAPH["npgd.models.zoo"]


def test_every_import_points_down_the_layers():
    assert {part(m) for m in MODULES} - {"npgd"} <= set(LAYERS), "a new top-level part: " \
        "give it a layer here and in docs/architecture.rst"
    def down(src: str, dst: str) -> bool:
        return part(dst) == part(src) or (
            part(dst) != "npgd" and LAYERS[part(dst)] < LAYERS[part(src)])

    wrong = sorted(f"{src} -> {dst}" for src, targets in GRAPH.items() if part(src) != "npgd"
                   for dst in targets if not down(src, dst))
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_package_graph_is_acyclic():
    packages = {p: set() for p in map(part, MODULES)}
    for src, targets in GRAPH.items():
        packages[part(src)] |= {part(d) for d in targets if part(d) != part(src)}
    packages.pop("npgd")  # the facade imports its parts; no part depends on it
    while packages:  # peel off packages that import no remaining package
        leaves = {p for p, deps in packages.items() if not deps & packages.keys()}
        assert leaves, f"cycle among the packages {sorted(packages)}"
        for p in leaves:
            del packages[p]


def test_no_import_cycle_between_modules():
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(GRAPH[m]):
            if n == "npgd":  # the package facade is no dependency of its parts
                continue
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])


def test_models_never_import_the_layers_above():
    above = {"problems", "train", "experiments", "cli"}
    assert not {d for m in GRAPH if part(m) == "models" for d in GRAPH[m]
                if part(d) in above}


HEAVY = ("matplotlib", "h5py", "nibabel", "skimage", "pydicom")


def test_importing_npgd_loads_no_optional_dependency():
    code = ("import sys, npgd, npgd.problems; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_missing_extra_names_the_pip_command():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import npgd, npgd.problems\n"
            "for name in ('npgd.models', 'npgd.train'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "    except ImportError as e:\n"
            "        print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(
        'needs torch, which is not installed: pip install "npgd[torch]"' in s for s in lines)
