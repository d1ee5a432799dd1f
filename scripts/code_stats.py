"""Lines per module (the largest five) and functions over 60 lines, for app.py, ui/ and wecl/.

    python scripts/code_stats.py [REPO]      (the figures of issue #12's closing note)
"""
import ast
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
files = [root / "app.py", *sorted((root / "wecl").rglob("*.py")), *sorted((root / "ui").rglob("*.py"))]
files = [f for f in files if f.exists()]
sizes = sorted(((len(f.read_text().splitlines()), f.relative_to(root)) for f in files), reverse=True)
print("modules:", len(files), "total lines:", sum(n for n, _ in sizes))
for n, f in sizes[:5]:
    print(f"  {n:5d} {f}")
long = []
for f in files:
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > 60:
                long.append((n, f"{f.relative_to(root)}:{node.lineno} {node.name}"))
print("functions over 60 lines:", len(long))
for n, name in sorted(long, reverse=True):
    print(f"  {n:4d} {name}")
