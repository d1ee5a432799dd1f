"""Atomic file replacement: readers see the old file or the new one, never half of either."""
from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Callable

from wecl.errors import WECLError


def atomic_write(target: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """`write(tmp)` fills a hidden temp file beside `target` (same file system, so the rename is
    atomic), which is fsynced and then renamed onto `target`; on any failure it is removed.
    The temp file keeps the target's suffix (np.savez appends ".npz" otherwise) and is created by
    `write` with a plain open, so it honours the umask (mkstemp would make it private)."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically; an OS or encoding failure is a WECLError."""
    def write(tmp: Path) -> None:
        with open(tmp, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)

    try:
        atomic_write(path, write)
    except (OSError, UnicodeError) as exc:
        raise WECLError(f"{path}: cannot write the file: {getattr(exc, 'strerror', None) or exc}") from exc


def _journal(first: Path) -> Path:
    return first.with_name(f".{first.name}.journal")


def atomic_write_texts(files: dict[str | os.PathLike, str]) -> None:
    """Replace several files together (a positions file and its video list): a reader sees all
    the old files or all the new ones. Each new text is staged beside its target and fsynced;
    then a journal naming the staged files is written (atomically); then each staged file is
    renamed onto its target and the journal removed. A crash before the journal exists leaves
    the old files; after it, `finish_pending(first target)`, which every reader calls, completes
    the renames."""
    targets = [Path(p) for p in files]
    staged = {}
    try:
        for target, text in zip(targets, files.values()):
            stage = target.with_name(f".{target.name}.{secrets.token_hex(4)}.staged")
            atomic_write_text(stage, text)
            staged[str(stage)] = str(target)
        atomic_write_text(_journal(targets[0]), json.dumps(staged))
    except BaseException:
        for stage in staged:
            Path(stage).unlink(missing_ok=True)
        raise
    finish_pending(targets[0])


JOURNAL_MAX_BYTES = 64 << 10  # a journal names a few staged files: a few hundred bytes


def finish_pending(first: str | os.PathLike) -> None:
    """Complete a group replacement of `atomic_write_texts` that a crash interrupted, if any.

    Only what `atomic_write_texts` writes is replayed: a staged file `.<name>.<8 hex>.staged` onto
    `<name>`, both in the journal's own folder. A journal is just a file beside the one read (an
    upload can place one next to another upload), so any other entry is refused, never moved."""
    journal = _journal(Path(first))
    if not journal.exists():
        return
    try:
        if journal.stat().st_size > JOURNAL_MAX_BYTES:
            raise ValueError(f"the journal is larger than any save of this project writes ({JOURNAL_MAX_BYTES} bytes)")
        staged = json.loads(journal.read_text(encoding="utf-8"))
        moves = _journal_moves(journal, staged)
        if Path(first).name not in {target.name for _, target in moves}:
            raise ValueError(f"the journal does not replace {Path(first).name}")
        for stage, target in moves:
            if stage.exists():  # not yet renamed when the writer stopped
                os.replace(stage, target)
        journal.unlink()
    except (OSError, ValueError) as exc:
        raise WECLError(f"{first}: cannot finish an interrupted save ({exc}); see {journal}") from exc


def _journal_moves(journal: Path, staged) -> list[tuple[Path, Path]]:
    """The (staged file, target) pairs of a journal, inside its folder; ValueError for anything else."""
    if not isinstance(staged, dict):
        raise ValueError("the journal is not a mapping of staged files to targets")
    moves = []
    for stage, target in staged.items():
        stage, target = Path(str(stage)), Path(str(target))
        if (stage.parent != target.parent or not re.fullmatch(rf"\.{re.escape(target.name)}\.[0-9a-f]{{8}}\.staged", stage.name)):
            raise ValueError(f"the journal names {stage.name!r} -> {target.name!r}, which no save of this project writes")
        moves.append((journal.parent / stage.name, journal.parent / target.name))
    return moves
