"""A local stand-in for the Hugging Face Hub HTTP API, enough for the real clients.

`huggingface_hub` (create_repo, create_branch, create_commit with LFS uploads) and `datasets`
(`load_dataset(repo_id)`) talk to it when started with ``HF_ENDPOINT=<url>``,
``HF_HUB_DISABLE_XET=1`` and ``HF_TOKEN=<token>``. Dataset repos only; git semantics are
reduced to what those clients observe: branches point at commits, a commit is a full map
``path -> blob``, LFS objects are content-addressed (an upload the server already has is
answered with "no action", which is what makes an interrupted upload resumable).

Test hooks: ``requests`` (method, path, status) of every call, ``faults`` (make the n-th
matching request fail) and ``blob_dir`` (every byte the server stores).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_SUFFIXES = (".parquet", ".png", ".jpg", ".ply", ".bin", ".arrow")
SIZE_CATEGORIES = {"n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T"}
REPO = r"/(?P<owner>[^/]+)/(?P<name>[^/]+)"


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


class HubStub:
    """``with HubStub(tmp_path, token) as hub: ... hub.url``; serves until the block ends."""

    def __init__(self, root: Path, token: str, user: str = "tester"):
        self.blob_dir = Path(root) / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.token, self.user = token, user
        self.repos: dict[str, dict] = {}  # repo_id -> {private, refs: {branch: sha}, commits: {sha: files}}
        self.requests: list[tuple[str, str, int]] = []
        self.faults: list[dict] = []  # {"method", "path" (regex), "status", "skip": n matching calls first}
        self.lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.hub = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "HubStub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- storage ----------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        (self.blob_dir / sha).write_bytes(data)
        return sha

    def files(self, repo_id: str, revision: str = "main") -> dict[str, dict]:
        repo = self._repo(repo_id)
        sha = repo["refs"].get(revision, revision)
        if sha not in repo["commits"]:
            raise HubError(404, f"Revision {revision} not found", "RevisionNotFound")
        return repo["commits"][sha]

    def read(self, repo_id: str, path: str, revision: str = "main") -> bytes:
        return (self.blob_dir / self.files(repo_id, revision)[path]["sha256"]).read_bytes()

    def _repo(self, repo_id: str, auth: bool = True) -> dict:
        repo = self.repos.get(repo_id)
        if repo is None or (repo["private"] and not auth):
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def _commit(self, repo: dict, branch: str, files: dict) -> str:
        sha = hashlib.sha1(uuid.uuid4().bytes).hexdigest()
        repo["commits"][sha] = files
        repo["refs"][branch] = sha
        return sha

    def _entry(self, data: bytes, path: str) -> dict:
        lfs = path.endswith(LFS_SUFFIXES) or b"\0" in data[:8000]
        return {"size": len(data), "sha256": self.put_blob(data), "oid": git_oid(data), "lfs": lfs}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hub-stub"
    routes = [
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", rf"/api/datasets{REPO}(?:/revision/(?P<rev>[^/]+))?", "info"),
        ("POST", rf"/api/datasets{REPO}/branch/(?P<rev>[^/]+)", "create_branch"),
        ("PUT", rf"/api/datasets{REPO}/settings", "settings"),
        ("POST", rf"/api/datasets{REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/api/datasets{REPO}/commit/(?P<rev>[^/]+)", "commit"),
        ("GET", rf"/api/datasets{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
        ("POST", rf"/api/datasets{REPO}/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("POST", r"/datasets/(?P<owner>[^/]+)/(?P<name>[^/]+)\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", "lfs_put"),
        ("GET", rf"/datasets{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", rf"/datasets{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]

    def log_message(self, *args) -> None:  # requests are recorded in hub.requests, never printed
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    # --- plumbing -------------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                out += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return out
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self, method: str) -> None:
        hub: HubStub = self.server.hub
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.body = self._body() if method in ("POST", "PUT") else b""
        status, payload, headers = 404, {"error": "not found"}, {}
        try:
            header = self.headers.get("Authorization")
            if header is not None and header != f"Bearer {hub.token}":
                raise HubError(401, "Invalid credentials in Authorization header")
            self.auth = header is not None
            with hub.lock:
                for fault in hub.faults:
                    if fault["method"] == method and re.search(fault["path"], url.path):
                        fault["skip"] = fault.get("skip", 0) - 1
                        if fault["skip"] < 0:
                            hub.faults.remove(fault)
                            raise HubError(fault["status"], "injected fault")
                        break
            for verb, pattern, name in self.routes:
                match = re.fullmatch(pattern, url.path) if verb == method else None
                if match:
                    args = {k: unquote(v) if v else v for k, v in match.groupdict().items()}
                    if "owner" in args:
                        args["repo_id"] = f"{args.pop('owner')}/{args.pop('name')}"
                    with hub.lock:
                        payload, headers, *rest = getattr(self, name)(hub, **args)
                    status = rest[0] if rest else 200
                    break
        except HubError as exc:
            status, payload = exc.status, {"error": exc.message, **exc.extra}
            headers = {"X-Error-Code": exc.code} if exc.code else {}
        hub.requests.append((method, url.path, status))
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        headers.setdefault("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def _writable(self, hub: HubStub, repo_id: str) -> dict:
        if not self.auth:
            raise HubError(401, "Unauthorized: a token is required")
        return hub._repo(repo_id)

    # --- endpoints (each returns payload, headers) -------------------------------------
    def whoami(self, hub):
        if not self.auth:
            raise HubError(401, "Unauthorized")
        return {"type": "user", "name": hub.user, "orgs": [], "auth": {"type": "access_token", "accessToken": {"role": "write", "displayName": "stub"}}}, {}

    def create_repo(self, hub):
        if not self.auth:
            raise HubError(401, "Unauthorized")
        req = json.loads(self.body)
        repo_id = f"{req.get('organization') or hub.user}/{req['name']}"
        if req.get("type") != "dataset":
            raise HubError(400, "the stub hosts dataset repos only")
        if repo_id in hub.repos:
            raise HubError(409, "You already created this dataset repo", url=f"{hub.url}/datasets/{repo_id}")
        attributes = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
        repo = hub.repos[repo_id] = {"private": req.get("visibility") == "private" or bool(req.get("private")), "refs": {}, "commits": {}}
        hub._commit(repo, "main", {".gitattributes": hub._entry(attributes, ".gitattributes")})
        return {"url": f"{hub.url}/datasets/{repo_id}", "name": repo_id}, {}

    def validate_yaml(self, hub):
        content = json.loads(self.body)["content"]
        errors = []
        match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        meta = yaml.safe_load(match.group(1)) if match else None
        if not isinstance(meta, dict):
            errors.append("no YAML metadata block")
        else:
            for key in ("license", "task_categories", "tags", "size_categories", "configs"):
                if key not in meta:
                    errors.append(f"missing '{key}'")
            if not set(meta.get("size_categories") or []) <= SIZE_CATEGORIES:
                errors.append(f"invalid size_categories {meta.get('size_categories')}")
            for config in meta.get("configs") or []:
                if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
                    errors.append(f"invalid config {config}")
        if errors:
            return {"errors": [{"message": e} for e in errors]}, {}, 400
        return {"errors": [], "warnings": []}, {}

    def info(self, hub, repo_id, rev=None):
        repo = hub._repo(repo_id, self.auth)
        sha = repo["refs"].get(rev or "main", rev)
        files = hub.files(repo_id, rev or "main")
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        return {"id": repo_id, "_id": repo_id, "author": repo_id.split("/")[0], "sha": sha, "private": repo["private"], "gated": False, "disabled": False,
                "lastModified": now, "tags": [], "siblings": [{"rfilename": p} for p in sorted(files)]}, {}

    def create_branch(self, hub, repo_id, rev):
        repo = self._writable(hub, repo_id)
        if rev in repo["refs"]:
            raise HubError(409, f"Branch {rev} already exists")
        start = (json.loads(self.body or b"{}") or {}).get("startingPoint") or "main"
        repo["refs"][rev] = repo["refs"].get(start, start)
        return {}, {}

    def settings(self, hub, repo_id):
        repo = self._writable(hub, repo_id)
        repo["private"] = json.loads(self.body).get("visibility", "private" if repo["private"] else "public") == "private"
        return {}, {}

    def preupload(self, hub, repo_id, rev):
        self._writable(hub, repo_id)
        current = hub.files(repo_id, rev)
        out = []
        for f in json.loads(self.body)["files"]:
            sample = base64.b64decode(f["sample"])
            lfs = f["path"].endswith(LFS_SUFFIXES) or b"\0" in sample or f["size"] > 10_000_000
            old = current.get(f["path"])
            oid = (old["sha256"] if old["lfs"] else old["oid"]) if old else None
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return {"files": out, "commitOid": hub._repo(repo_id)["refs"].get(rev)}, {}

    def lfs_batch(self, hub, repo_id):
        self._writable(hub, repo_id)
        objects = []
        for obj in json.loads(self.body)["objects"]:
            have = (hub.blob_dir / obj["oid"]).is_file()
            objects.append(obj if have else {**obj, "actions": {"upload": {"href": f"{hub.url}/_lfs/{obj['oid']}"}}})
        return {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}

    def lfs_put(self, hub, oid):
        if hashlib.sha256(self.body).hexdigest() != oid:
            raise HubError(400, "content does not match its oid")
        hub.put_blob(self.body)
        return {}, {}

    def commit(self, hub, repo_id, rev):
        repo = self._writable(hub, repo_id)
        files = dict(hub.files(repo_id, rev))
        lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "header" and value.get("parentCommit") not in (None, repo["refs"].get(rev)):
                raise HubError(412, "parent commit is not the head of the branch")
            elif key == "file":
                files[value["path"]] = hub._entry(base64.b64decode(value["content"]), value["path"])
            elif key == "lfsFile":
                blob = hub.blob_dir / value["oid"]
                if not blob.is_file():
                    raise HubError(422, f"LFS object {value['oid']} was not uploaded")
                files[value["path"]] = {"size": blob.stat().st_size, "sha256": value["oid"], "oid": git_oid(f"lfs {value['oid']}".encode()), "lfs": True}
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                files = {p: f for p, f in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
        sha = hub._commit(repo, rev, files)
        return {"commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{sha}", "commitOid": sha, "success": True}, {}

    @staticmethod
    def _tree_entry(path: str, f: dict | None) -> dict:
        if f is None:
            return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "path": path}
        entry = {"type": "file", "oid": f["oid"], "size": f["size"], "path": path}
        if f["lfs"]:
            entry["lfs"] = {"oid": f["sha256"], "size": f["size"], "pointerSize": 134}
        return entry

    def _listing(self, hub, repo_id, rev) -> dict[str, dict | None]:
        hub._repo(repo_id, self.auth)
        files = hub.files(repo_id, rev)
        entries: dict[str, dict | None] = dict(files)
        for path in files:
            parts = path.split("/")
            for i in range(1, len(parts)):
                entries.setdefault("/".join(parts[:i]), None)
        return entries

    def tree(self, hub, repo_id, rev, path=None):
        entries = self._listing(hub, repo_id, rev)
        base = (path or "").strip("/")
        if base and base not in entries:
            raise HubError(404, f"{base} does not exist", "EntryNotFound")
        prefix = base + "/" if base else ""
        recursive = self.query.get("recursive", "false").lower() in ("1", "true")
        hits = [p for p in entries if p.startswith(prefix) and (recursive or "/" not in p[len(prefix):])]
        return [self._tree_entry(p, entries[p]) for p in sorted(hits)], {}

    def paths_info(self, hub, repo_id, rev):
        entries = self._listing(hub, repo_id, rev)
        paths = parse_qs(self.body.decode()).get("paths", [])
        return [self._tree_entry(p.strip("/"), entries[p.strip("/")]) for p in paths if p.strip("/") in entries], {}

    def resolve(self, hub, repo_id, rev, path):
        repo = hub._repo(repo_id, self.auth)
        files = hub.files(repo_id, rev)
        if path not in files:
            raise HubError(404, f"{path} does not exist", "EntryNotFound")
        f = files[path]
        data = (hub.blob_dir / f["sha256"]).read_bytes()
        headers = {"X-Repo-Commit": repo["refs"].get(rev, rev), "ETag": f'"{f["sha256"] if f["lfs"] else f["oid"]}"', "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if f["lfs"]:
            headers.update({"X-Linked-Etag": headers["ETag"], "X-Linked-Size": str(f["size"])})
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and self.command == "GET":
            start = int(match.group(1) or 0)
            stop = min(int(match.group(2)) + 1 if match.group(2) else len(data), len(data))
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
            return data[start:stop], headers, 206
        return data, headers
