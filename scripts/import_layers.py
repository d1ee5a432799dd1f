"""The project's import graph as layers, from the source (nothing is imported): which top-level
parts import which, and the modules of `wecl` that reach `wecl.training`.

    python scripts/import_layers.py [ROOT]

A part is `wecl` (without `wecl.training` and the CLI), `wecl.training`, `wecl.commands` (the
CLI), `explorer`, `ui`, `app`; an arrow A → B means some module of A imports one of B. `tests/test_layers.py`
checks the rules this prints: `wecl` never imports the app, and prediction never imports training.
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PARTS = ("app", "ui", "explorer", "wecl.commands", "wecl.training", "wecl")
THIRD_PARTY_APP = ("gradio", "plotly", "pandas", "moviepy")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(root: Path) -> dict[str, set[str]]:
    """module -> the modules it imports (absolute names, at any depth of the file)."""
    out: dict[str, set[str]] = {}
    files = [root / "app.py", *root.glob("ui/**/*.py"), *root.glob("explorer/**/*.py"), *root.glob("wecl/**/*.py")]
    for path in files:
        if not path.exists():
            continue
        name, found = module_name(root, path), set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
        out[name] = found
    return out


def part(module: str) -> str | None:
    for p in PARTS:
        if module == p or module.startswith(p + "."):
            return p
    return None


def reach(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every project module `start` imports, directly or through others."""
    seen, stack = set(), [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target in graph and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def report(root: Path) -> str:
    graph = imports(root)
    arrows: dict[tuple[str, str], int] = defaultdict(int)
    app_libraries: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            a, b = part(module), part(target)
            if a and b and a != b:
                arrows[(a, b)] += 1
            if part(module) in ("wecl", "wecl.training", "wecl.commands") and target.split(".")[0] in THIRD_PARTY_APP:
                app_libraries[module].add(target.split(".")[0])
    lines = ["imports between parts (A -> B: count of import statements):"]
    lines += [f"  {a} -> {b}: {n}" for (a, b), n in sorted(arrows.items())]
    prediction = [m for m in graph if part(m) == "wecl"]
    reaching = sorted(m for m in prediction if any(part(t) == "wecl.training" for t in reach(graph, m)))
    lines.append(f"wecl modules outside training and the CLI that reach wecl.training: {len(reaching)} of {len(prediction)}"
                 + (f" ({', '.join(reaching)})" if reaching else ""))
    lines.append("wecl modules importing app libraries (gradio, plotly, pandas, moviepy): "
                 + (", ".join(f"{m} ({', '.join(sorted(v))})" for m, v in sorted(app_libraries.items())) or "none"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)))
