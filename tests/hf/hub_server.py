"""A local stand-in for the Hugging Face Hub's file endpoints, on 127.0.0.1, for the real client.

It serves ``/{org}/{name}/resolve/{revision}/{path}`` (HEAD and GET, with ``Range``) from folders
of real files, with the headers huggingface_hub reads (``X-Repo-Commit``, ``ETag``,
``Content-Length``, ``Content-Range``) and the Hub's error answers (``X-Error-Code``: RepoNotFound,
RevisionNotFound, EntryNotFound, GatedRepo). Every body byte it sends is counted per file, so a test
can prove what moved. Point the client at it with ``HF_ENDPOINT=server.url``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

__all__ = ["HubRepoFiles", "LocalHub"]

_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class HubRepoFiles:
    """One repo: its files (a folder), its commit, and whether it is gated behind ``token``."""

    folder: Path
    commit: str
    gated_token: str | None = None


@dataclass
class LocalHub:
    """The server; use as a context manager. ``served[(repo, path)]`` counts body bytes sent."""

    repos: dict[str, HubRepoFiles]
    served: Counter = field(default_factory=Counter)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Range header)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def total_served(self) -> int:
        return sum(self.served.values())

    def __enter__(self) -> "LocalHub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                hub._answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str, commit: str | None = None) -> None:
        h.send_response(status)
        h.send_header("X-Error-Code", code)
        if commit:
            h.send_header("X-Repo-Commit", commit)
        msg = f'{{"error": "{code}"}}'.encode()
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(msg)))
        h.end_headers()
        if h.command == "GET":
            h.wfile.write(msg)

    def _answer(self, h: BaseHTTPRequestHandler, *, body: bool) -> None:
        rng = h.headers.get("Range", "")
        self.requests.append((h.command, h.path, rng))
        m = _RESOLVE.match(h.path.split("?", 1)[0])
        if m is None:
            return self._error(h, 404, "RepoNotFound")
        repo_id, rev, rel = m["repo"], unquote(m["rev"]), unquote(m["path"])
        repo = self.repos.get(repo_id)
        if repo is None:
            return self._error(h, 401, "RepoNotFound")
        if repo.gated_token is not None and h.headers.get("Authorization") != f"Bearer {repo.gated_token}":
            return self._error(h, 401, "GatedRepo")
        if rev not in ("main", repo.commit):
            return self._error(h, 404, "RevisionNotFound")
        path = repo.folder / rel
        if not path.is_file() or ".." in rel.split("/"):
            return self._error(h, 404, "EntryNotFound", repo.commit)
        size = path.stat().st_size
        start, end = 0, size  # end exclusive
        status = 200
        if rng:
            r = _RANGE.match(rng)
            if r is None:
                return self._error(h, 416, "RangeNotSatisfiable")
            start = int(r[1])
            end = min(size, int(r[2]) + 1) if r[2] else size
            if start >= size or end <= start:
                return self._error(h, 416, "RangeNotSatisfiable")
            status = 206
        h.send_response(status)
        h.send_header("X-Repo-Commit", repo.commit)
        h.send_header("ETag", f'"{_etag(path)}"')
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(end - start))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        h.end_headers()
        if not body:
            return None
        with path.open("rb") as fh:
            fh.seek(start)
            left = end - start
            while left:
                chunk = fh.read(min(left, 1 << 20))
                h.wfile.write(chunk)
                left -= len(chunk)
                self.served[(repo_id, rel)] += len(chunk)
        return None


_ETAGS: dict[tuple[str, float], str] = {}


def _etag(path: Path) -> str:
    key = (str(path), path.stat().st_mtime)
    if key not in _ETAGS:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _ETAGS[key] = h.hexdigest()
    return _ETAGS[key]
