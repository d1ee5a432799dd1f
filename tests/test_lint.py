"""The code passes the linter configured in pyproject.toml ([tool.ruff]): pyflakes, pycodestyle,
import order."""
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import REPO


def test_ruff_passes():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of requirements-dev.txt"
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
