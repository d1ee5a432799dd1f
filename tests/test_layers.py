"""The layers of the code (issue 24): `wecl` is what a researcher installs, so it never imports the
app (app.py, ui/, explorer/) nor its libraries, and prediction never imports training. Read from the
source by `scripts/import_layers.py`; nothing is imported."""
from __future__ import annotations

from helpers import REPO
from scripts.import_layers import THIRD_PARTY_APP, imports, part, reach

GRAPH = imports(REPO)


def test_the_package_never_imports_the_app_or_its_libraries():
    for module, targets in GRAPH.items():
        if part(module) not in ("wecl", "wecl.training", "wecl.commands"):
            continue
        assert not [t for t in targets if part(t) in ("app", "ui", "explorer")], module
        assert not [t for t in targets if t.split(".")[0] in THIRD_PARTY_APP], module


def test_prediction_never_imports_training():
    """Every module of `wecl` outside `wecl.training` and the CLI, except the Ray runner (which runs
    `extract` as well as `batch`), reaches no module of `wecl.training`, at any depth."""
    for module in GRAPH:
        if part(module) != "wecl" or module == "wecl.distributed":
            continue
        assert not [m for m in reach(GRAPH, module) if part(m) == "wecl.training"], module


def test_the_app_is_outside_the_package_and_the_ui_above_it():
    assert "explorer.plots" in GRAPH and "wecl.explorer.plots" not in GRAPH
    for module, targets in GRAPH.items():
        if part(module) == "explorer":
            assert not [t for t in targets if part(t) in ("ui", "app") or t.split(".")[0] == "gradio"], module
