"""`pip install .` gives the research package on its own (issue 24): in a fresh virtual environment,
without gradio or any other app library, `python -m wecl predict` runs the default checkpoint on a
bundled example. The venv's Python runs isolated (-I), so the package comes from site-packages,
not from this checkout."""
from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO

pytestmark = pytest.mark.slow


def test_pip_install_gives_a_package_that_predicts_without_the_app(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    where = subprocess.run([str(python), "-I", "-c", "import importlib.util as u, wecl; print(wecl.__file__); "
                            "print([m for m in ('gradio', 'plotly', 'pandas', 'moviepy', 'explorer', 'ui') if u.find_spec(m)])"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    path, app_modules = where.stdout.splitlines()
    assert str(venv) in path and app_modules == "[]", where.stdout
    example = REPO / "assets" / "examples" / "hopper_then_astronaut.mp4"
    predicted = subprocess.run([str(python), "-I", "-m", "wecl", "predict", str(example)], cwd=REPO,
                               capture_output=True, text=True, timeout=600)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "detections:" in predicted.stdout and "joy" in predicted.stdout, predicted.stdout
