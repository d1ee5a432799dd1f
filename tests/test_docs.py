"""The README is a map of at most 250 lines and docs/ holds the details: every relative Markdown link
and anchor in them resolves, every repository path the README names exists, the code's pointers into
docs/ resolve, and the README's test command is the one `.ci/run` runs. No network, no imports of the
package: plain text."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
MAX_README_LINES = 250
FIRST_SCREEN = 60  # lines, front matter included: where the two commands must be

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, https:, mailto:, ...

# What the README names in backticks that looks like a path but is not one in this repository.
# Each entry says why.
NOT_REPO_PATHS = {
    "config.json",  # a file of every checkpoint folder (checkpoints/<name>/config.json), not of the root
}
PATH_SUFFIXES = (".py", ".md", ".sh", ".json", ".csv", ".png")


def front_matter_end(lines: list[str]) -> int:
    """Index of the first line after a leading `---` ... `---` block (the Space's front matter)."""
    if lines and lines[0].strip() == "---":
        for i, line in enumerate(lines[1:], 1):
            if line.strip() == "---":
                return i + 1
    return 0


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside the front matter and fenced code blocks."""
    lines = text.splitlines()
    out, fence = [], None
    for i, line in enumerate(lines[front_matter_end(lines):], front_matter_end(lines) + 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
        elif fence is not None and m and m.group(1).startswith(fence):
            fence = None
        elif fence is None:
            out.append((i, line))
    return out


def fenced_lines(text: str) -> list[str]:
    """Lines inside fenced code blocks."""
    inside = {i for i, _ in prose(text)}
    lines = text.splitlines()
    start = front_matter_end(lines)
    return [line for i, line in enumerate(lines[start:], start + 1) if i not in inside and not FENCE.match(line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link markup reduced to its text, lowercased, stripped, every
    character but letters (any script), digits, marks, spaces, hyphens and underscores removed,
    spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs (a repeated one gets -1, -2, … as on
    GitHub) and explicit HTML anchors."""
    text = path.read_text(encoding="utf-8")
    seen: dict[str, int] = {}
    out = set(HTML_ANCHOR.findall(text))
    for _, line in prose(text):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def link_targets(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every inline, image and reference link outside code."""
    out = []
    for number, line in prose(path.read_text(encoding="utf-8")):
        line = INLINE_CODE.sub("", line)
        out += [(number, t) for t in INLINE_LINK.findall(line)]
        out += [(number, t) for t in REFERENCE_LINK.findall(line)]
    return out


def broken(source: Path, target: str) -> str | None:
    """Why a relative link from `source` does not resolve, or None when it does (or is no relative link)."""
    if SCHEME.match(target):
        return None
    file_part, _, anchor = target.partition("#")
    dest = (source.parent / unquote(file_part)).resolve() if file_part else source
    if not dest.exists():
        return f"{file_part} does not exist"
    if anchor and dest.suffix == ".md":
        if unquote(anchor) not in anchors(dest):
            return f"{dest.name} has no heading whose anchor is #{anchor}"
    return None


def test_slug_matches_github():
    assert slug("2. Input sampling") == "2-input-sampling"
    assert slug("Deploying a Space (`python -m explorer.space`)") == "deploying-a-space-python--m-explorerspace"
    assert slug("A θ change in the app") == "a-θ-change-in-the-app"
    assert slug("Other models' scores") == "other-models-scores"
    assert slug("[Result JSON](#x)") == "result-json"


def test_readme_is_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move details to docs/"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
    problems = [f"{path.name}:{line}: ({target}) {why}"
                for line, target in link_targets(path) if (why := broken(path, target))]
    assert not problems, "\n".join(problems)


def path_tokens(span: str) -> list[str]:
    """The words of a code span that name a repository path. Skipped: URLs; absolute paths (system
    paths such as /usr/bin/chromium, API endpoints such as /predict); placeholders and patterns
    (`<…>`, `*`, `{…}`, `[…]` options, `…`, `a|b` choices, `owner/name@rev` Hub ids, `$VAR` and `~`
    paths, `VAR=value`); names whose first part is upper case (`DIR/…`, `FOLDER/…`, `DATA_ROOT/…`);
    and words that are neither in a folder nor a file of a kind the README points at."""
    out = []
    for token in span.split():
        token = token.strip(",;:()")
        if not token or "://" in token or token.startswith(("/", "-")):
            continue
        if any(c in token for c in "<*{[@|…$~=\"'"):
            continue
        if not re.fullmatch(r"[A-Za-z0-9_./-]+", token):
            continue
        if "/" not in token and not token.endswith(PATH_SUFFIXES):
            continue
        first = token.lstrip("./").split("/")[0]
        if first.isupper() or token in NOT_REPO_PATHS:
            continue
        out.append(token)
    return out


def test_readme_paths_exist():
    text = README.read_text(encoding="utf-8")
    named = []
    for number, line in prose(text):
        named += [(number, t) for _, span in INLINE_CODE.findall(line) for t in path_tokens(span)]
    assert len(named) >= 20, "the README's architecture map names the modules; the filter lost them"
    missing = [f"README.md:{n}: {t}" for n, t in named if not (REPO / t).exists()]
    assert not missing, "\n".join(missing)


def test_path_filter_skips_placeholders_and_keeps_paths():
    assert path_tokens("python -m wecl batch DIR --ray [ADDRESS]") == []
    assert path_tokens("FOLDER/.wecl/results.sqlite owner/name@revision $TMPDIR/x/<id>/ wecl-synth-*") == []
    assert path_tokens("/usr/bin/chromium /predict https://huggingface.co/x") == []
    assert path_tokens("python benchmarks/predict.py --device cuda") == ["benchmarks/predict.py"]
    assert path_tokens("app.py") == ["app.py"]


def test_code_points_at_existing_doc_anchors():
    """Docstrings and messages cite docs/<page>.md#<anchor>; each must still be a heading there."""
    cite = re.compile(r"docs/([a-z_]+\.md)#([\w-]+)")
    problems = []
    for folder in ("wecl", "ui", "tests", "scripts", "benchmarks"):
        for source in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
                for page, anchor in cite.findall(line):
                    doc = REPO / "docs" / page
                    if not doc.exists() or anchor not in anchors(doc):
                        problems.append(f"{source.relative_to(REPO)}:{number}: docs/{page}#{anchor}")
    assert not problems, "\n".join(problems)


def ci_test_command() -> str:
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                if line.strip().startswith("python3.11 -m venv")]
    assert len(commands) == 1, f".ci/run should run one set-up-and-test command, found {commands}"
    return commands[0]


def readme_commands() -> list[str]:
    return [line for line in fenced_lines(README.read_text(encoding="utf-8")) if line.startswith("python3.11 -m venv")]


def test_readme_test_command_is_what_ci_runs():
    tests = [c for c in readme_commands() if "pytest" in c]
    assert len(tests) == 1, f"the README should show one test command, found {tests}"
    ci = ci_test_command()
    assert tests[0] == ci, f"README: {tests[0]!r}\n.ci/run: {ci!r}"


def test_the_two_commands_are_on_the_first_screen():
    commands = readme_commands()
    assert len(commands) == 2, f"the README shows exactly two set-up commands, found {commands}"
    assert any(c.endswith("app.py") for c in commands) and any("pytest" in c for c in commands)
    first_screen = README.read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN]
    assert all(c in first_screen for c in commands), f"both commands within the first {FIRST_SCREEN} lines"
