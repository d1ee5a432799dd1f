"""`wecl.settings` (issue 24): every WECL_* variable is read in one place, once, never at import;
its fields follow docs/hosting.md's limits table; a child process gets the same settings."""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields

import pytest

from helpers import REPO
from wecl.errors import WECLError
from wecl.settings import Settings, environment, use


def variables() -> list[str]:
    return [f.metadata["variable"] for f in fields(Settings)]


def test_the_limits_table_and_the_settings_name_the_same_variables():
    table = (REPO / "docs" / "hosting.md").read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "WECL_" in line]
    in_table = [v for row in rows for v in re.findall(r"WECL_[A-Z_]+", row.rsplit("|", 2)[-2])]
    assert in_table, "the limits table names no variable"
    assert set(in_table) <= set(variables()), set(in_table) - set(variables())
    # and the fields come in the table's order
    order = [v for v in variables() if v in in_table]
    assert order == sorted(order, key=lambda v: min(i for i, row in enumerate(rows) if v in row)), order
    documented = "\n".join(p.read_text() for p in (REPO / "docs").glob("*.md"))
    assert not [v for v in variables() if v not in documented]


def test_nothing_but_the_settings_module_reads_a_wecl_variable():
    """A line that looks a WECL_ name up in the environment (`os.environ`, `getenv`) is nowhere but in
    `wecl.settings`, which reads every field's variable by its name."""
    readers = []
    for path in [REPO / "app.py", *REPO.glob("ui/*.py"), *REPO.glob("explorer/*.py"), *REPO.glob("wecl/**/*.py")]:
        if re.search(r"(os\.environ|getenv)[^\n#]*[\"']WECL_", path.read_text()):
            readers.append(path.relative_to(REPO).as_posix())
    assert readers == [], readers
    assert "environ.get(f.metadata[\"variable\"]" in (REPO / "wecl" / "settings.py").read_text()


def test_values_are_parsed_and_a_bad_one_is_a_sentence():
    s = Settings.from_environment({"WECL_MAX_DURATION": "60", "WECL_MAX_SIDE": "4096", "WECL_DATASET_ROOTS": "/a:/b",
                                   "WECL_CHECKPOINTS_ALLOW": "lab/, x/y", "WECL_MAX_PIXELS": "1000", "WECL_CACHE": ""})
    assert (s.max_duration_s, s.max_side_px, s.dataset_roots, s.checkpoints_allow) == (60.0, 4096, ("/a", "/b"),
                                                                                           ("lab/", "x/y"))
    assert s.pixels == 1000 and Settings().pixels == 8192 * 8192 and s.cache == "~/.cache/wecl"
    with pytest.raises(WECLError, match="WECL_MAX_SIDE='huge' is not a valid value"):
        Settings.from_environment({"WECL_MAX_SIDE": "huge"})


def test_nothing_is_read_at_import_and_a_bad_value_is_a_message_when_used():
    code = ("import app, wecl.video, wecl.features, explorer.render, ui.limits; print('imported'); "
            "from wecl.settings import settings; settings()")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "WECL_MAX_SIDE": "huge", "HF_HUB_OFFLINE": "1"})
    assert done.stdout.strip() == "imported", done.stderr[-2000:]
    assert "WECL_MAX_SIDE='huge' is not a valid value" in done.stderr


def test_a_child_process_sees_the_same_settings():
    with use(max_duration_s=12.0, dataset_roots=("/x", "/y")):
        env = environment()
        code = "from wecl.settings import settings; s = settings(); print(s.max_duration_s, s.dataset_roots)"
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", **env})
    assert done.stdout.strip() == "12.0 ('/x', '/y')", done.stderr
    assert "WECL_MAX_SIDE" not in env  # defaults are not passed on
