"""The package's shape, enforced: layers and no import cycles (function-level imports included), file and
function sizes, no behaviour chosen by a model's name outside models/, the fit sequence once, one writer of
run files. Each rule reads the source with ``ast``; see DESIGN.md sections 1-2."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "trainwright"
PKG = "trainwright"

# What each top-level part may import (besides itself). The layers: cli -> pipeline -> search -> fitting ->
# {models -> training, evaluate -> data} -> {config, runs, errors, registry, runtime}; report -> evaluate;
# deploy -> {runs, data, models, evaluate}.
BASE = {"errors", "exports", "config", "registry", "runtime", "runs", "onnxgraph"}
ALLOWED = {
    "errors": set(),
    "exports": set(),
    "config": {"errors"},
    "registry": {"errors", "config"},
    "runtime": {"errors"},
    "onnxgraph": set(),
    "runs": {"errors", "runtime"},
    "data": BASE,
    "evaluate": BASE | {"data"},
    "training": BASE,
    "models": BASE | {"data", "training"},
    "fitting": BASE | {"data", "models", "training", "evaluate"},
    "search": BASE | {"fitting", "data", "models", "training", "evaluate"},
    "report": BASE | {"evaluate"},
    "deploy": BASE | {"data", "models", "evaluate"},
    "pipeline": BASE | {"search", "fitting", "data", "models", "training", "evaluate", "report", "deploy"},
    "cli": BASE | {"pipeline", "search", "fitting", "data", "models", "training", "evaluate", "report", "deploy"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    """Every trainwright module ``module`` imports, anywhere in the file (function-level imports included)."""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            prefix = ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else (node.module or "")
            targets = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
        else:
            continue
        for target in targets:
            resolved = _resolve(target) if target.split(".")[0] == PKG else None
            if resolved and resolved != module and not module.startswith(resolved + "."):
                found.add(resolved)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_part_is_placed_in_a_layer():
    parts = {_part(m) for m in MODULES} - {"", "__main__", "datasets"}
    assert parts <= set(ALLOWED), f"add these to the layer rules: {sorted(parts - set(ALLOWED))}"


def _breaks(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                  if _part(m) in ALLOWED and _part(t) not in ("", _part(m)) and _part(t) not in ALLOWED[_part(m)])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def test_imports_follow_the_layers():
    breaks = _breaks(GRAPH)
    assert not breaks, "imports against the layer rules:\n" + "\n".join(breaks)


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_graph_checks_can_fail():
    """A break and a cycle planted in a small graph are found; the real graph is not empty."""
    planted = {"trainwright.data.clean": {"trainwright.fitting.member"},
               "trainwright.fitting.member": {"trainwright.models.base"},
               "trainwright.models.base": {"trainwright.fitting.member"}}
    assert _breaks(planted) == ["trainwright.data.clean -> trainwright.fitting.member",
                                "trainwright.models.base -> trainwright.fitting.member"]
    assert _cycles(planted) == [["trainwright.fitting.member", "trainwright.models.base"]]
    assert "trainwright.fitting.cv" in GRAPH["trainwright.pipeline.fit"], "the parser misses imports"


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_files_and_functions_stay_small():
    long_files = [f"{p.relative_to(SRC)}: {n} lines" for p in MODULES.values()
                  if (n := len(p.read_text().splitlines())) > 500]
    assert not long_files, "files over 500 lines (two ideas in one room?):\n" + "\n".join(long_files)
    long_functions = []
    for module, path in MODULES.items():
        for fn in _functions(ast.parse(path.read_text())):
            size = fn.end_lineno - fn.lineno + 1
            if size > 60 and (module, fn.name) != ("trainwright.training.loop", "fit"):  # the loop reads in one piece
                long_functions.append(f"{module}.{fn.name}: {size} lines")
    assert not long_functions, "functions over 60 lines:\n" + "\n".join(long_functions)


def _learner_names() -> set[str]:
    from trainwright.models.registry import learners

    return set(learners().names())


def _string_constants(node) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for e in node.elts for s in _string_constants(e)]
    return []


def test_no_behaviour_chosen_by_a_model_name_outside_models():
    names, found = _learner_names(), []
    for module, path in MODULES.items():
        if _part(module) == "models":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [s for side in (node.left, *node.comparators) for s in _string_constants(side)]
                hits = sorted(set(consts) & names)
                if hits:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} compares with {hits}")
    assert not found, "ask the learner (its capabilities) instead:\n" + "\n".join(found)


def _calls(path: Path, name: str) -> list[int]:
    """Lines where a function or method called ``name`` is called."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called == name:
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("step", ["Preprocessor", "balance"])
def test_the_fit_sequence_exists_once(step):
    """Preprocessing and balancing are set up in one place (``fitting.member``), outside their own modules."""
    callers = sorted(str(p.relative_to(SRC)) for m, p in MODULES.items()
                     if _part(m) != "data" and _calls(p, step))
    assert callers == ["fitting/member.py"], callers


# Writing a file: only runs/store.py does it.
WRITERS = {"write_text", "write_bytes", "mkstemp", "save_file", "os.replace", "os.rename", "shutil.copy"}


def _serialises_to_a_path(call: ast.Call) -> bool:
    """``torch.save(obj, path)`` or ``frame.to_csv(path)``: serialising into a file rather than into a buffer
    (a variable named ``buffer``), a returned string, or standard output."""
    func = call.func
    if func.attr == "save" and isinstance(func.value, ast.Name) and func.value.id == "torch":
        target = call.args[1] if len(call.args) > 1 else None
    elif func.attr in ("to_csv", "to_parquet", "to_json", "to_pickle"):
        target = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("path", "path_or_buf")), None)
    else:
        return False
    if target is None:
        return False
    return ast.unparse(target) not in ("buffer", "sys.stdout")


def _writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "open":
            modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
            modes += [k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
            if any(set(m) & set("wax+") for m in modes):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: open(..., {modes[0]!r})")
        elif isinstance(func, ast.Attribute):
            receiver = func.value.id if isinstance(func.value, ast.Name) else None
            if receiver in ("store", "writer"):
                continue  # the store, or the run's writer (which writes through the store)
            if func.attr in WRITERS or f"{receiver}.{func.attr}" in WRITERS or _serialises_to_a_path(node):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(func)}(...)")
    return found


def test_one_module_writes_files():
    found = [w for m, p in MODULES.items() if m != "trainwright.runs.store" for w in _writes(p)]
    assert not found, "files written outside runs/store.py:\n" + "\n".join(found)


def test_the_writer_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os, torch\nfrom pathlib import Path\nPath('x').write_text('y')\nos.replace('a', 'b')\n"
                   "open('f', 'w')\ntorch.save({}, 'f.pt')\nframe.to_csv('out.csv')\nframe.to_csv(buffer)\n")
    original = SRC
    try:
        globals()["SRC"] = tmp_path
        assert len(_writes(bad)) == 5
    finally:
        globals()["SRC"] = original
