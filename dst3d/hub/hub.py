"""Publish a dataset folder to the Hugging Face Hub as one atomic commit.

What goes up: ``data/*.parquet`` (the shards, byte for byte), ``README.md`` and ``assets/``
(the card and its pictures, regenerated from the data into a temporary folder: the dataset
folder is only read), ``dst3d_job.json`` and ``kcf/report.json`` when present.

Only a finished, intact run goes up: publishing is refused while a ``dst3d generate`` is
writing to the folder, when a shard of the run is missing, damaged (its sha256 differs
from the record written with it) or unverified (no record), so remote shards are replaced
(and remote files under ``data/`` and ``assets/`` that are not in the local set deleted, in
the same commit that adds the new ones, so readers never see a mix of old and new shards)
only by a complete, verified run. The published job file holds no local paths. An interrupted run can be started again: LFS uploads are
content-addressed, the Hub answers "already have it" for every object that arrived, and
nothing is visible until the final commit. Files the Hub already holds unchanged are
skipped by the client.

The token comes from ``--token``, ``HF_TOKEN`` or the login cache (``hf auth login``). It is
handed to the client only; errors are reported as one line without it.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..files import write_json_atomic
from ..store.card import ASSETS_DIR, KCF_DIR, split_files, write_card
from ..store.dataset import open_dataset
from ..store.shards import DATA_DIR, JOB_FILE, public_settings, record_path
from ..viz.inspect import card_pictures

MANAGED_DIRS = (f"{DATA_DIR}/", f"{ASSETS_DIR}/", f"{KCF_DIR}/")  # remote files here that are not ours are deleted
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_TOKEN_LIKE = re.compile(r"hf_[A-Za-z0-9]{8,}")


@dataclass(frozen=True)
class UploadFile:
    path_in_repo: str
    local: Path
    size: int


@dataclass
class PublishResult:
    repo_id: str
    revision: str
    files: list[UploadFile]
    deleted: list[str] = field(default_factory=list)
    commit_url: str | None = None
    dry_run: bool = False

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def plan_files(root: Path, staging: Path) -> list[UploadFile]:
    """The files of the commit, in repo order: card, pictures, job, KCF outputs, shards (all splits)."""
    items: list[tuple[str, Path]] = [("README.md", staging / "README.md")]
    items += [(p.relative_to(staging).as_posix(), p) for p in sorted((staging / ASSETS_DIR).glob("*.png"))]
    if (staging / JOB_FILE).is_file():
        items.append((JOB_FILE, staging / JOB_FILE))
    items += [(p.relative_to(root).as_posix(), p) for p in sorted((root / KCF_DIR).glob("*")) if p.is_file() and not p.name.startswith(".")]
    items += [(p.relative_to(root).as_posix(), p) for paths in split_files(root).values() for p in paths]
    return [UploadFile(path, local, local.stat().st_size) for path, local in items]


def check_publishable(root: Path) -> None:
    """Refuse (one line) a folder a run is writing to, an unfinished run, and any split with a
    missing, damaged or unverified shard (every byte checked against its record's sha256)."""
    from ..store.run_state import lock_holder, run_status

    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    pid = lock_holder(root)
    if pid is not None:
        raise UserError(f"a dst3d run (pid {pid}) is writing to {root}; publish it when the run has finished")
    if (root / JOB_FILE).is_file():
        st = run_status(root, full=True)
        if st.problems:
            names = "; ".join(f"{name} is {what}" for name, what in st.problems.items())
            raise UserError(f"{root} cannot be published: {names}; run the same `dst3d generate` command again to remake it")
        unverified = [p.relative_to(root).as_posix() for p in split_files(root).get("train", []) if not record_path(p).is_file()]
        if unverified:
            raise UserError(f"{root} cannot be published: {len(unverified)} shard(s) are unverified ({', '.join(unverified[:3])}"
                            f"{', ...' if len(unverified) > 3 else ''}: no integrity record, from an interrupted write or an older dst3d); "
                            "run the same `dst3d generate` command again to remake them")
        if st.samples_done < st.samples:
            raise UserError(f"{root} is an unfinished run ({st.samples_done}/{st.samples} samples, {st.shards_done}/{st.shards} shards); "
                            "run the same `dst3d generate` command again to finish it, then publish")
    for split in {"train": [], **split_files(root)}:
        dataset = open_dataset(root, split, verify="full")
        if not dataset.verified:
            raise UserError(f"split '{split}' of {root} is unverified (its shards have no integrity records: written by an older dst3d "
                            f"or another tool); regenerate it with this dst3d before publishing")


def public_job_file(root: Path, target: Path) -> Path | None:
    """The run's job file without local paths (CAD library and backend folders by name and
    listing hash), written to ``target``; None without a job file."""
    path = root / JOB_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{path} is unreadable or damaged; remove it or regenerate the dataset") from None
    job = dict(record.get("job") or {})
    if job.get("cad_library"):
        job["cad_library"] = Path(job["cad_library"]).name
    record = {**record, "job": public_settings(job)}  # the identity holds no paths (see Plan.identity)
    return write_json_atomic(target, record)


def resolve_token(token: str | None) -> str:
    """--token, else HF_TOKEN / the login cache, as huggingface_hub resolves them."""
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise UserError("no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token")
    return found


def _scrub(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
    return _TOKEN_LIKE.sub("***", text)


def hub_error(exc: BaseException, action: str, repo_id: str, token: str | None) -> UserError:
    """One line for a failed Hub call, never the token nor headers; 401/403/404/network named."""
    chain, seen = [], exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for err in chain:
        response = getattr(err, "response", None)
        status = getattr(response, "status_code", None)
        if status is None:
            continue
        server = (getattr(err, "server_message", None) or "").strip().splitlines()
        details = [_one_line(chain[0])] if err is not chain[0] else []  # e.g. "Invalid metadata in README.md"
        details += [m for m in server[:1] if not any(m in d for d in details)]
        detail = (": " + "; ".join(d for d in details if d))[:400] if any(details) else ""
        if status == 401:
            msg = f"the Hub rejected the token (401) while trying to {action}; check HF_TOKEN, `hf auth login` or --token"
        elif status == 403:
            msg = f"no write access to {repo_id} (403) while trying to {action}; use a token with write permission for that namespace"
        elif status == 404:
            msg = f"{repo_id} or its revision was not found (404) while trying to {action}{detail}"
        else:
            msg = f"the Hub answered {status} while trying to {action}{detail}"
        return UserError(_scrub(msg, token))
    for err in chain:
        names = {c.__name__ for c in type(err).__mro__}
        if names & {"TransportError", "RequestError", "ConnectionError", "TimeoutError"}:
            from huggingface_hub import constants

            return UserError(_scrub(f"cannot reach the Hub at {constants.ENDPOINT} while trying to {action} ({type(err).__name__}); check the network or HF_ENDPOINT", token))
    return UserError(_scrub(f"publishing failed while trying to {action}: {type(exc).__name__}: {_one_line(exc)[:400]}", token))


def _one_line(exc: BaseException) -> str:
    return " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())


class _HubCall:
    """``with _HubCall("create the repo", ...):`` turns any client failure into a UserError."""

    def __init__(self, action: str, repo_id: str, token: str | None):
        self.action, self.repo_id, self.token = action, repo_id, token

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (UserError, KeyboardInterrupt)) or not isinstance(exc, Exception):
            return False
        raise hub_error(exc, self.action, self.repo_id, self.token) from None


def publish(
    root: Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    dry_run: bool = False,
    license: str = "cc-by-4.0",
    message: str | None = None,
) -> PublishResult:
    """Upload the dataset in ``root`` to the dataset repo ``repo_id`` (see module doc)."""
    root = Path(root)
    if not REPO_ID.fullmatch(repo_id or ""):
        raise UserError(f"invalid --repo-id '{repo_id}'; expected OWNER/NAME (letters, digits, '-', '_', '.')")
    check_publishable(root)  # a finished, intact, verified run: only then may remote shards be replaced
    branch = revision if revision and revision != "main" else None

    api = None
    if not dry_run:  # check the token before the work of building the card
        token = resolve_token(token)
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        with _HubCall("check the token", repo_id, token):
            api.whoami()

    with tempfile.TemporaryDirectory(prefix="dst3d-publish-") as tmp:
        staging = Path(tmp)
        write_card(root, license, out=staging, repo_id=repo_id, pictures=card_pictures(root, staging))
        public_job_file(root, staging / JOB_FILE)
        files = plan_files(root, staging)
        result = PublishResult(repo_id, branch or "main", files, dry_run=dry_run)
        if api is None:
            return result

        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        with _HubCall("create the repository", repo_id, token):
            api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
        if private:
            with _HubCall("make the repository private", repo_id, token):
                if not api.repo_info(repo_id, repo_type="dataset").private:
                    api.update_repo_settings(repo_id, private=True, repo_type="dataset")
        if branch:
            with _HubCall(f"create the branch '{branch}'", repo_id, token):
                api.create_branch(repo_id, branch=branch, repo_type="dataset", exist_ok=True)
        with _HubCall("list the repository's files", repo_id, token):
            remote = api.list_repo_files(repo_id, repo_type="dataset", revision=branch)
        local = {f.path_in_repo for f in files}
        result.deleted = sorted(p for p in remote if p.startswith(MANAGED_DIRS) and p not in local)
        operations = [CommitOperationAdd(f.path_in_repo, str(f.local)) for f in files]
        operations += [CommitOperationDelete(p) for p in result.deleted]
        summary = message or f"dst3d publish: {sum(1 for f in files if f.path_in_repo.startswith(DATA_DIR + '/'))} shards"
        with _HubCall("upload and commit the files", repo_id, token):
            info = api.create_commit(repo_id, operations, commit_message=summary, repo_type="dataset", revision=branch)
        result.commit_url = info.commit_url
        return result
