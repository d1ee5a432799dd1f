"""Limits on what one HTTP request may send the app, before Gradio reads it, and on the disk
uploads may take.

Gradio keeps each session's last inputs, and its own upload limit is per file (a request may carry
up to 1,000 files). `BodyLimit` caps every request body: small for the JSON of events and API calls
(the app's inputs are a few kB), read whole before the app sees it; the upload limit for
`/upload` bodies, all files together, counted as they stream in. Uploads are also refused while the
disk they go to has less than WECL_MIN_FREE_DISK_MB free, and once a client has sent WECL_UPLOAD_BUDGET_MB
bytes within `BUDGET_WINDOW_S` (as long as Gradio keeps an upload). Each refusal is a 413 (or 507)
with a sentence.

An upload the client abandons ends its parse with Gradio's own error type, so that Gradio deletes
the half-written files; `sweep_stray_uploads` removes any a crash left behind, and `BodyLimit`
never lets the file route serve one (Gradio keeps finished uploads in a folder per file, so a file
at the top of its upload folder is always a temporary one).
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import urllib.parse
from collections import deque
from pathlib import Path

from starlette.formparsers import MultiPartException

from ui.fairness import client_address
from wecl.settings import settings

# The settings (`wecl.settings`): the JSON of an event or an API call, WECL_MAX_BODY_MB (a 1,000-row
# ground-truth table with long labels fits; media recorded in the browser would be posted as JSON
# too: the app's inputs take uploads only); the free bytes the upload folder must keep, below which
# uploads are refused (WECL_MIN_FREE_DISK_MB); the bytes one client (an address:
# `ui.fairness.client_address`) may upload within BUDGET_WINDOW_S, the time Gradio keeps an upload
# (the app's delete_cache; WECL_UPLOAD_BUDGET_MB).


def min_free_disk() -> int:
    return int(settings().min_free_disk_mb * 2**20)

BUDGET_WINDOW_S = 3600
MAX_CLIENTS_REMEMBERED = 10_000
# A temporary upload file untouched for this long belongs to no upload in progress.
STRAY_AGE_S = 600
SWEEP_EVERY_S = 60


def parse_size(text: str) -> int:
    """Gradio's `max_file_size` in bytes, read the way Gradio reads it ("200mb" is 200 MiB)."""
    from gradio.utils import _parse_file_size

    return int(_parse_file_size(text))


class _TooLarge(MultiPartException):
    """Raised from `receive` mid-upload: a MultiPartException, so that Gradio's multipart parser
    deletes the files it has written so far (it unlinks them only for its own errors)."""


class _Abandoned(MultiPartException):
    """The client went away mid-upload (Starlette's own ClientDisconnect left the files behind)."""


def upload_folder() -> str:
    """Where Gradio writes uploads (`gradio.utils.get_upload_folder`)."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()


def sweep_stray_uploads(folder: str | Path, older_than: float = STRAY_AGE_S) -> int:
    """Delete the temporary files of uploads that never finished (top-level files of Gradio's
    upload folder untouched for `older_than` seconds); returns how many went."""
    removed, now = 0, time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > older_than:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


class _Budget:
    """Bytes each client uploaded within the window, forgotten as the window passes."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.spent: dict[str, deque] = {}
        self.lock = threading.Lock()

    def used(self, client: str) -> int:
        with self.lock:
            self._forget(time.monotonic())
            return sum(n for _, n in self.spent.get(client, ()))

    def add(self, client: str, n: int) -> None:
        with self.lock:
            if client not in self.spent and len(self.spent) >= MAX_CLIENTS_REMEMBERED:
                self.spent.pop(next(iter(self.spent)))
            self.spent.setdefault(client, deque()).append((time.monotonic(), n))

    def _forget(self, now: float) -> None:
        for client in list(self.spent):
            record = self.spent[client]
            while record and now - record[0][0] > self.window:
                record.popleft()
            if not record:
                del self.spent[client]


class BodyLimit:
    """ASGI middleware: request bodies over `limit` bytes (`upload_limit` for upload routes) are
    refused with 413 before the app reads them."""

    def __init__(self, app, limit: int | None = None, upload_limit: int = 200 * 10**6, upload_dir: str | None = None,
                 upload_budget: int | None = None):
        limits = settings()
        self.app, self.upload_limit = app, upload_limit
        self.limit = int(limits.max_body_mb * 2**20) if limit is None else limit
        self.upload_dir = upload_dir or upload_folder()
        budget = int(limits.upload_budget_mb * 2**20) if upload_budget is None else upload_budget
        self.budget = _Budget(budget, BUDGET_WINDOW_S)
        self.swept = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] in ("GET", "HEAD") and self._stray(scope["path"]):
            return await _refuse(send, 403, "File not allowed.")
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        upload = scope["path"].rstrip("/").endswith("/upload")
        if upload:
            return await self._upload(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if _length(declared, self.limit) > self.limit:
            return await _refuse(send, 413, f"a request may send at most {_mib(self.limit)} MiB; this one sends "
                                            f"{_mib(_length(declared, self.limit))} MiB")
        messages, seen = [], 0  # small: read it all first, so that a body over the limit never reaches the app
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return await _refuse(send, 413, f"a request may send at most {_mib(self.limit)} MiB")
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    async def _upload(self, scope, receive, send):
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = client_address(headers, (scope.get("client") or (None,))[0])
        await self._sweep()
        if _free_bytes(self.upload_dir) < min_free_disk():
            return await _refuse(send, 507, "the server's disk is nearly full: uploads are refused for now; "
                                            "try again later")
        limit = min(self.upload_limit, self.budget.limit - self.budget.used(client))
        if limit <= 0:
            return await _refuse(send, 413, f"you have uploaded {_mib(self.budget.used(client))} MiB within the "
                                            f"last {BUDGET_WINDOW_S // 60} minutes, the most one visitor may; "
                                            "try again later")
        what = ("an upload (all its files together)" if limit == self.upload_limit
                else "your next upload (the rest of your hourly upload allowance)")
        length = _length(headers.get("content-length"), limit)
        if length > limit:
            return await _refuse(send, 413, f"{what} may send at most {_mib(limit)} MiB; this one sends "
                                            f"{_mib(length)} MiB")
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Abandoned("the upload was abandoned")
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge(f"{what} may send at most {_mib(limit)} MiB")
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, f"{what} may send at most {_mib(limit)} MiB")
        finally:
            self.budget.add(client, seen)

    def _stray(self, path: str) -> bool:
        """Whether a GET asks the file route for a top-level file of the upload folder."""
        _, sep, asked = urllib.parse.unquote(path).partition("/file=")
        if not sep:
            return False
        try:
            return Path(os.path.abspath(asked)).parent == Path(os.path.abspath(self.upload_dir))
        except (OSError, ValueError):
            return False

    async def _sweep(self) -> None:
        now = time.monotonic()
        if now - self.swept > SWEEP_EVERY_S:  # in a worker thread: a folder of thousands of uploads is no event-loop work
            self.swept = now
            await asyncio.to_thread(sweep_stray_uploads, self.upload_dir)


def _length(declared, limit: int) -> int:
    """A declared Content-Length, 0 when there is none, and over `limit` when it is no number."""
    if declared is None:
        return 0
    try:
        return int(declared)
    except ValueError:
        return limit + 1


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def _free_bytes(folder: str) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return min_free_disk()  # a folder that cannot be measured is not a reason to refuse


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
