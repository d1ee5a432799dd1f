"""Limits on what one HTTP request may send the app, before Gradio reads it.

Gradio keeps each session's last inputs, and its own upload limit is per file (a request may carry
up to 1,000 files). `BodyLimit` caps every request body: small for the JSON of events and API calls
(the app's inputs are a few kB), read whole before the app sees it; the upload limit for
`/upload` bodies, all files together, counted as they stream in. Uploads are also refused while the disk
they go to has less than `MIN_FREE_DISK` free. Each refusal is a 413 (or 507) with a sentence.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

from starlette.formparsers import MultiPartException

# The JSON of an event or an API call: a 1,000-row ground-truth table with long labels fits. (Media
# recorded in the browser would be posted as JSON too: the app's inputs take uploads only.)
MAX_BODY = int(float(os.environ.get("WECL_MAX_BODY_MB", 2)) * 2**20)
# Free bytes the upload folder must keep; below it uploads are refused.
MIN_FREE_DISK = int(float(os.environ.get("WECL_MIN_FREE_DISK_MB", 1024)) * 2**20)


def parse_size(text: str) -> int:
    """Gradio's `max_file_size` in bytes, read the way Gradio reads it ("200mb" is 200 MiB)."""
    from gradio.utils import _parse_file_size

    return int(_parse_file_size(text))


class _TooLarge(MultiPartException):
    """Raised from `receive` mid-upload: a MultiPartException, so that Gradio's multipart parser
    deletes the files it has written so far (it unlinks them only for its own errors)."""


class BodyLimit:
    """ASGI middleware: request bodies over `limit` bytes (`upload_limit` for upload routes) are
    refused with 413 before the app reads them."""

    def __init__(self, app, limit: int = MAX_BODY, upload_limit: int = 200 * 10**6, upload_dir: str | None = None):
        self.app, self.limit, self.upload_limit = app, limit, upload_limit
        self.upload_dir = upload_dir or os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        upload = scope["path"].rstrip("/").endswith("/upload")
        limit = self.upload_limit if upload else self.limit
        what = "an upload (all its files together)" if upload else "a request"
        if upload and _free_bytes(self.upload_dir) < MIN_FREE_DISK:
            return await _refuse(send, 507, "the server's disk is nearly full: uploads are refused for now; "
                                            "try again later")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = limit + 1
            if length > limit:
                return await _refuse(send, 413, f"{what} may send at most {_mib(limit)} MiB; this one sends "
                                                f"{_mib(length)} MiB")
        if not upload:  # small: read it all first, so that a body over the limit never reaches the app
            messages, seen = [], 0
            while True:
                message = await receive()
                messages.append(message)
                seen += len(message.get("body", b""))
                if seen > limit:
                    return await _refuse(send, 413, f"{what} may send at most {_mib(limit)} MiB")
                if message["type"] != "http.request" or not message.get("more_body"):
                    break

            async def replay():
                return messages.pop(0) if messages else await receive()

            return await self.app(scope, replay, send)
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
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


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def _free_bytes(folder: str) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return MIN_FREE_DISK  # a folder that cannot be measured is not a reason to refuse


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
