"""Atomic file replacement: readers see the old file or the new one, never half of either."""
from __future__ import annotations

import os
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
