"""A fake Hugging Face hub on 127.0.0.1 for tests: the endpoints ``huggingface_hub`` and ``edgeroute pull``
call, with real HTTP semantics (Range requests, redirects to a "CDN" on another origin, gated and missing
repos with the hub's X-Error-Code headers), plus knobs to throttle, cut or corrupt a download.

    with FakeHub() as hub:
        hub.add_repo("acme/tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(2_000_000)})
        env HF_ENDPOINT=hub.url

Endpoints: ``GET /api/models/{repo}[/revision/{rev}]`` (``?blobs=true`` adds sizes and LFS sha256s),
``GET|HEAD /{repo}/resolve/{rev}/{path}`` (302 to ``http://localhost:{port}/cdn/...`` for LFS files, like the
real hub's CDN redirect; ``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``, ``X-Linked-Size``), and
``GET /cdn/{repo}/{path}`` with ``Range: bytes=N-``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


def tiny_gguf(
    size: int,
    *,
    arch: str = "llama",
    seed: int = 0,
    fim: bool = False,
    embedding: bool = False,
    context: int = 4096,
    name: str = "Tiny Test Model",
    file_type: int = 15,
) -> bytes:
    """A valid GGUF of about ``size`` bytes: real header (architecture, context, tokens, FIM tokens or
    pooling when asked) and one tensor of seeded random bytes, so every file has its own sha256."""
    import gguf

    tokens = ["<unk>", "<s>", "</s>", "hello", "world"]
    if fim:
        tokens += ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.gguf"
        writer = gguf.GGUFWriter(str(path), arch)
        writer.add_name(name)
        writer.add_context_length(context)
        writer.add_embedding_length(64)
        writer.add_block_count(2)
        writer.add_head_count(4)
        writer.add_file_type(file_type)
        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        if embedding:
            writer.add_pooling_type(gguf.PoolingType.MEAN)
        else:
            writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
        payload = np.random.default_rng(seed).integers(-128, 127, size=max(size - 1024, 32), dtype=np.int8)
        writer.add_tensor("blob.weight", payload)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes]
    commit: str
    gated: bool = False
    # Advertise a different sha256 for these paths (to test checksum mismatches).
    wrong_sha: set[str] = field(default_factory=set)
    _digests: dict[str, str] = field(default_factory=dict)

    def sha256(self, path: str) -> str:
        digest = self._digests.get(path)
        if digest is None:
            digest = self._digests[path] = hashlib.sha256(self.files[path]).hexdigest()
        return hashlib.sha256(digest.encode()).hexdigest() if path in self.wrong_sha else digest


@dataclass
class Served:
    """What the hub did, for assertions."""

    bytes_by_path: dict[str, int] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def total(self, path: str | None = None) -> int:
        return sum(n for p, n in self.bytes_by_path.items() if path is None or p == path)


class FakeHub:
    def __init__(self, token: str = "hf_test_token") -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.token = token  # the token that opens gated repos
        self.served = Served()
        self.lock = threading.Lock()
        self.throttle: tuple[int, float] | None = None  # (chunk bytes, seconds between chunks)
        self.drop_after: int | None = None  # cut the next file response after this many bytes
        self.ignore_range = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ setup

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, gated: bool = False) -> FakeRepo:
        commit = hashlib.sha1("\n".join([repo_id, *sorted(files)]).encode()).hexdigest()
        repo = FakeRepo(repo_id, dict(files), commit, gated=gated)
        self.repos[repo_id] = repo
        return repo

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, path: str, n: int) -> None:
        with self.lock:
            self.served.bytes_by_path[path] = self.served.bytes_by_path.get(path, 0) + n


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    # ------------------------------------------------------------ routing

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        with self.fake.lock:
            self.fake.served.requests.append(
                {"method": self.command, "path": path, "query": url.query, "headers": dict(self.headers)}
            )
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            return self._model_info(match.group(1), "blobs=true" in url.query.lower())
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            return self._resolve(match.group(1), match.group(3), head)
        if match := re.fullmatch(r"/cdn/([^/]+/[^/]+)/(.+)", path):
            return self._serve_file(match.group(1), match.group(2), head)
        self._error(404, "NotFound", "not found")

    # ------------------------------------------------------------ endpoints

    def _model_info(self, repo_id: str, blobs: bool) -> None:
        sent = self.headers.get("Authorization")
        if sent is not None and sent != f"Bearer {self.fake.token}":
            return self._error(401, "", "Invalid credentials in Authorization header")
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        siblings = []
        for path, data in sorted(repo.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling |= {
                    "size": len(data),
                    "blobId": hashlib.sha1(data).hexdigest(),
                    "lfs": {"size": len(data), "sha256": repo.sha256(path), "pointerSize": 134},
                }
            siblings.append(sibling)
        body = {
            "_id": "0" * 24,
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/")[0],
            "sha": repo.commit,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "tags": ["gguf"],
            "siblings": siblings,
        }
        self._json(200, body)

    def _authorized(self, repo: FakeRepo) -> bool:
        return not repo.gated or self.headers.get("Authorization") == f"Bearer {self.fake.token}"

    def _resolve(self, repo_id: str, path: str, head: bool) -> None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        if not self._authorized(repo):
            return self._error(
                401 if "Authorization" not in self.headers else 403,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must have access to it and be authenticated.",
            )
        if path not in repo.files:
            return self._error(404, "EntryNotFound", "Entry not found")
        sha = repo.sha256(path)
        self.send_response(302)
        self.send_header("Location", f"http://localhost:{self.fake.port}/cdn/{repo_id}/{path}")
        self.send_header("X-Repo-Commit", repo.commit)
        self.send_header("ETag", f'"{hashlib.sha1(repo.files[path]).hexdigest()}"')
        self.send_header("X-Linked-Etag", f'"{sha}"')
        self.send_header("X-Linked-Size", str(len(repo.files[path])))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve_file(self, repo_id: str, path: str, head: bool) -> None:
        repo = self.fake.repos.get(repo_id)
        if repo is None or path not in repo.files:
            return self._error(404, "EntryNotFound", "Entry not found")
        data = repo.files[path]
        start, end = 0, len(data) - 1
        wanted = self.headers.get("Range")
        partial = False
        if wanted and not self.fake.ignore_range:
            match = _RANGE_RE.match(wanted.strip())
            if match is None or int(match.group(1)) >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = int(match.group(1))
            end = min(int(match.group(2)), end) if match.group(2) else end
            partial = True
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("ETag", f'"{repo.sha256(path)}"')
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if not head:
            self._send_body(path, memoryview(data)[start : end + 1])

    def _send_body(self, path: str, body: memoryview) -> None:
        with self.fake.lock:
            drop_after, self.fake.drop_after = self.fake.drop_after, None
        chunk, delay = self.fake.throttle or (256 * 1024, 0.0)
        sent = 0
        try:
            while sent < len(body):
                piece = body[sent : sent + chunk]
                if drop_after is not None and sent + len(piece) > drop_after:
                    piece = piece[: max(drop_after - sent, 0)]
                    self.wfile.write(piece)
                    self.fake.count(path, len(piece))
                    self.close_connection = True
                    return  # the connection closes short of Content-Length: a dropped download
                self.wfile.write(piece)
                self.wfile.flush()
                self.fake.count(path, len(piece))
                sent += len(piece)
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------ helpers

    def _json(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, code: str, message: str) -> None:
        raw = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)
