"""A local HTTP server speaking the parts of the Hugging Face Hub's protocol that WECL uses, for
tests through `HF_ENDPOINT` with the real `huggingface_hub` client (nothing of it is patched).

Read: `/api/{models,spaces}/{id}[/revision/{rev}]`, `/api/.../tree/{rev}`, `HEAD`/`GET`
`[/spaces]/{id}/resolve/{rev}/{file}` with `X-Repo-Commit`, `ETag`, `Content-Length` and byte
ranges; errors as the Hub sends them (404 + `X-Error-Code` RepoNotFound / RevisionNotFound /
EntryNotFound, 401 + GatedRepo for a gated repo). Write: `/api/whoami-v2`, `/api/repos/create`,
`preupload` (every file "regular"), `commit` (ndjson, base64 content), `branch`, `tag`, Space
hardware. Tokens are `{token: user}`; a user may write under its own name only (else 403).
Faults: `drop_once` cuts the named files' first download off half-way.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Repo:
    kind: str  # "model" or "space"
    id: str
    private: bool = False
    gated: bool = False
    sdk: str | None = None
    hardware: str | None = None
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha
    tags: set[str] = field(default_factory=set)
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> {path: bytes}
    messages: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], message: str, branch: str = "main") -> str:
        sha = hashlib.sha1(f"{self.id} {branch} {len(self.commits)} {message} {time.time_ns()}".encode()).hexdigest()
        self.commits[sha] = dict(files)
        self.messages[sha] = message
        self.refs[branch] = sha
        return sha

    def resolve(self, rev: str) -> str | None:
        if rev in self.refs:
            return self.refs[rev]
        return rev if rev in self.commits else None


class FakeHub:
    """`with FakeHub() as hub:` serves on `hub.url` until the block ends."""

    def __init__(self, tokens: dict[str, str] | None = None):
        self.tokens = tokens or {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.drop_once: set[str] = set()  # file paths whose next GET is cut off half-way
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_repo(self, repo_id: str, files: dict[str, bytes], kind: str = "model", **options) -> Repo:
        repo = self.repos.setdefault((kind, repo_id), Repo(kind, repo_id, **options))
        repo.commit(files, "initial commit")
        return repo

    def repo(self, repo_id: str, kind: str = "model") -> Repo:
        return self.repos[(kind, repo_id)]


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        # -- helpers -------------------------------------------------------------------------
        def user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return hub.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

        def send(self, status: int, body: bytes | dict | list = b"", headers: dict | None = None, head: bool = False):
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def error(self, status: int, code: str | None, message: str = "", head: bool = False):
            headers = {"X-Error-Message": message or code or "error"}
            if code:
                headers["X-Error-Code"] = code
            self.send(status, {"error": message or code}, headers, head)

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def find(self, kind: str, repo_id: str, head: bool = False) -> Repo | None:
            repo = hub.repos.get((kind, repo_id))
            if repo is None or (repo.private and self.user() != repo_id.split("/")[0]):
                self.error(404 if self.user() else 401, "RepoNotFound", "Repository not found", head)
                return None
            return repo

        def writable(self, kind: str, repo_id: str) -> Repo | None:
            user = self.user()
            if user is None:
                self.error(401, None, "Invalid credentials in Authorization header")
                return None
            repo = self.find(kind, repo_id)
            if repo is not None and repo_id.split("/")[0] != user:
                self.error(403, None, f"You don't have the rights to write to {repo_id}")
                return None
            return repo

        # -- reads ---------------------------------------------------------------------------
        def do_HEAD(self):
            self.read(head=True)

        def do_GET(self):
            self.read(head=False)

        def read(self, head: bool):
            path = urlparse(self.path).path
            with hub.lock:
                hub.requests.append((self.command, path, self.headers.get("Range", "")))
            if path == "/api/whoami-v2":
                user = self.user()
                if user is None:
                    return self.error(401, None, "Invalid credentials in Authorization header")
                return self.send(200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}})
            m = re.fullmatch(r"/api/(model|space)s/([^/]+/[^/]+)(?:/revision/(.+))?", path)
            if m:
                return self.info(m.group(1), m.group(2), unquote(m.group(3) or "main"))
            m = re.fullmatch(r"/api/(model|space)s/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
            if m:
                return self.tree(m.group(1), m.group(2), unquote(m.group(3)))
            m = re.fullmatch(r"(/spaces)?/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if m:
                return self.resolve(("space" if m.group(1) else "model"), m.group(2), unquote(m.group(3)),
                                    unquote(m.group(4)), head)
            self.error(404, None, f"no route {path}", head)

        def commit_of(self, kind: str, repo_id: str, rev: str, head: bool = False, gated: bool = False):
            """(repo, commit sha) of a readable revision, or None once the error is sent. `gated`:
            this route serves the repo's files, which a gated repo keeps from anonymous users."""
            repo = self.find(kind, repo_id, head)
            if repo is None:
                return None
            sha = repo.resolve(rev)
            if sha is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
            if gated and repo.gated and self.user() is None:
                return self.error(401, "GatedRepo", "Access to this model is restricted", head)
            return repo, sha

        def info(self, kind: str, repo_id: str, rev: str):
            found = self.commit_of(kind, repo_id, rev)
            if found is None:
                return
            repo, sha = found
            files = repo.commits[sha]
            self.send(200, {"id": repo_id, "_id": repo_id, "sha": sha, "private": repo.private, "gated": repo.gated,
                            "disabled": False, "tags": [], "lastModified": "2026-11-26T00:00:00.000Z",
                            "siblings": [{"rfilename": name} for name in sorted(files)],
                            **({"sdk": repo.sdk, "runtime": {"hardware": {"requested": repo.hardware}}}
                               if kind == "space" else {})})

        def tree(self, kind: str, repo_id: str, rev: str):
            found = self.commit_of(kind, repo_id, rev, gated=True)
            if found is None:
                return
            files = found[0].commits[found[1]]
            entries, folders = [], set()
            for name in sorted(files):
                parts = name.split("/")
                folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
                entries.append({"type": "file", "path": name, "size": len(files[name]),
                                "oid": hashlib.sha1(b"blob %d\0" % len(files[name]) + files[name]).hexdigest()})
            entries += [{"type": "directory", "path": f, "size": 0, "oid": "0" * 40} for f in sorted(folders)]
            self.send(200, entries)

        def resolve(self, kind: str, repo_id: str, rev: str, name: str, head: bool):
            found = self.commit_of(kind, repo_id, rev, head, gated=True)
            if found is None:
                return
            repo, sha = found
            data = repo.commits[sha].get(name)
            if data is None:
                return self.error(404, "EntryNotFound", f"{name} does not exist", head)
            headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                       "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            start = 0
            ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if ranged and not head:
                start = int(ranged.group(1))
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            if not head and name in hub.drop_once:
                hub.drop_once.discard(name)
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the connection drops mid-file
                return
            self.send(206 if start else 200, data[start:], headers, head)

        # -- writes --------------------------------------------------------------------------
        def do_POST(self):
            path = urlparse(self.path).path
            query = parse_qs(urlparse(self.path).query)
            with hub.lock:
                hub.requests.append((self.command, path, ""))
                data = self.body()
                if path == "/api/repos/create":
                    return self.create(json.loads(data))
                if path == "/api/validate-yaml":
                    return self.validate_yaml(json.loads(data))
                m = re.fullmatch(r"/api/(model|space)s/([^/]+/[^/]+)/(preupload|commit|branch|tag)/(.+)", path)
                if m:
                    kind, repo_id, verb, rev = m.group(1), m.group(2), m.group(3), unquote(m.group(4))
                    repo = self.writable(kind, repo_id)
                    if repo is None:
                        return
                    return getattr(self, verb)(repo, rev, data, query)
                m = re.fullmatch(r"/api/spaces/([^/]+/[^/]+)/hardware", path)
                if m:
                    repo = self.writable("space", m.group(1))
                    if repo is not None:
                        repo.hardware = json.loads(data)["flavor"]
                        self.send(200, {"stage": "BUILDING", "hardware": {"requested": repo.hardware}})
                    return
            self.error(404, None, f"no route {path}")

        def create(self, payload: dict):
            user = self.user()
            if user is None:
                return self.error(401, None, "Invalid credentials in Authorization header")
            owner = payload.get("organization") or user
            repo_id, kind = f"{owner}/{payload['name']}", payload.get("type", "model")
            if owner != user:
                return self.error(403, None, f"You don't have the rights to create a repo under {owner}")
            prefix = "spaces/" if kind == "space" else ""
            if (kind, repo_id) in hub.repos:  # the Hub's 409 carries the repo's URL
                return self.send(409, {"error": "You already created this repo", "url": f"{hub.url}/{prefix}{repo_id}"},
                                 {"X-Error-Message": "You already created this repo"})
            repo = hub.repos[(kind, repo_id)] = Repo(kind, repo_id, private=bool(payload.get("private")),
                                                    sdk=payload.get("sdk"), hardware=payload.get("hardware"))
            repo.commit({".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}, "initial commit")
            self.send(200, {"url": f"{hub.url}/{prefix}{repo_id}", "name": repo_id})

        def validate_yaml(self, payload: dict):
            """The README's front matter must parse as YAML; a Space's must name a known sdk."""
            import yaml

            content = payload.get("content", "")
            errors = []
            if content.startswith("---\n") and "\n---\n" in content:
                try:
                    meta = yaml.safe_load(content[4:content.index("\n---\n")]) or {}
                except yaml.YAMLError as error:
                    meta, errors = {}, [{"message": f"invalid YAML: {error}"}]
                if payload.get("repoType") == "space" and not errors and meta.get("sdk") not in ("gradio", "docker", "static"):
                    errors.append({"message": f"sdk must be gradio, docker or static, not {meta.get('sdk')!r}"})
            if errors:
                return self.send(400, {"errors": errors, "warnings": []})
            self.send(200, {"errors": [], "warnings": []})

        def preupload(self, repo: Repo, rev: str, data: bytes, query):
            files = json.loads(data)["files"]
            self.send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                      for f in files]})

        def commit(self, repo: Repo, rev: str, data: bytes, query):
            lines = [json.loads(line) for line in data.splitlines() if line.strip()]
            sha = repo.resolve(rev)
            if sha is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            files = dict(repo.commits[sha])
            message = "commit"
            for line in lines:
                value = line["value"]
                if line["key"] == "header":
                    message = value.get("summary", message)
                elif line["key"] == "file":
                    files[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] in ("deletedFile", "deletedFolder"):
                    files = {k: v for k, v in files.items()
                             if k != value["path"] and not k.startswith(value["path"].rstrip("/") + "/")}
                else:
                    return self.error(400, None, f"unsupported commit operation {line['key']}")
            new = repo.commit(files, message, rev if rev in repo.refs and rev not in repo.tags else "main")
            prefix = "spaces/" if repo.kind == "space" else ""
            self.send(200, {"commitUrl": f"{hub.url}/{prefix}{repo.id}/commit/{new}", "commitOid": new,
                            "success": True})

        def branch(self, repo: Repo, rev: str, data: bytes, query):
            if rev in repo.refs:
                return self.error(409, None, f"Reference already exists: {rev}")
            start = (json.loads(data) if data else {}).get("startingPoint") or "main"
            repo.refs[rev] = repo.resolve(start)
            self.send(200, {})

        def tag(self, repo: Repo, rev: str, data: bytes, query):
            tag = json.loads(data)["tag"]
            if tag in repo.refs:
                return self.error(409, None, f"Tag already exists: {tag}")
            repo.refs[tag] = repo.resolve(rev)
            repo.tags.add(tag)
            self.send(200, {})

    return Handler
