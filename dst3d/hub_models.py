"""Locating and loading Hugging Face models (Hub id or local folder), failing fast and clearly.

Used by every stage that loads a model: the ControlNet appearance backend (diffusers) and
the LLM prompt writer (transformers). :func:`locate_model` finds a model without loading it
(no torch import): a local folder is used as is; a Hub id is looked up in the cache and,
online, checked with one short metadata request, so a missing model, repo, revision or
file fails at once with one line that says how to provide it, instead of hanging in retries.
:func:`load_or_explain` turns the loaders' "file missing" errors into such lines too, and
:func:`dtype_kwarg` names the dtype argument that the installed library's ``from_pretrained``
actually reads (``torch_dtype`` before diffusers 0.42 / transformers 4.56, ``dtype`` after).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

log = logging.getLogger("dst3d.hub")


@dataclass
class ModelSource:
    """Where a model comes from. ``path`` is what ``from_pretrained`` gets."""

    id: str
    path: str
    revision: str | None
    resolved: str  # commit hash, 'local:<folder>', or the revision asked for when unknown
    local_files_only: bool
    probe: str | None = None  # local path of the probe file (model_index.json / config.json)

    def record(self) -> dict:
        return {"id": self.id, "revision": self.resolved}


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it."""
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def _missing(what: str, model_id: str, option: str, reason: str) -> UserError:
    return UserError(
        f"{what} '{model_id}' is not available ({reason}); download it with `hf download {model_id}` "
        f"(`huggingface-cli download` in older versions) on a machine with network, or pass a local folder via {option}"
    )


def locate_model(
    model_id: str,
    *,
    revision: str | None = None,
    probe_file: str = "config.json",
    what: str = "model",
    option: str = "backend_options / --config",
    local_files_only: bool | None = None,
    probe_timeout: float = 10.0,
) -> ModelSource:
    """Find a model without slow surprises.

    A local folder is used as is (``resolved='local:<path>'``). A Hub id is looked up in the
    cache; offline (HF_HUB_OFFLINE or ``local_files_only``) a miss raises at once. Online,
    one metadata request with a short timeout checks the Hub: unreachable, a cached model is
    loaded from the cache and a missing one raises; a missing repo, revision or file raises.
    """
    path = Path(model_id).expanduser()
    if path.is_dir():
        if probe_file and not (path / probe_file).is_file():
            raise UserError(f"{what} folder {path} has no {probe_file}; point {option} at a folder in diffusers/transformers layout (as saved by save_pretrained)")
        return ModelSource(model_id, str(path.resolve()), None, f"local:{path.resolve()}", True, str(path / probe_file) if probe_file else None)
    if _looks_like_path(model_id) or path.exists():
        raise UserError(f"{what} folder {model_id} does not exist; pass an existing folder or a Hugging Face Hub id via {option}")

    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError

    try:
        cached = try_to_load_from_cache(model_id, probe_file, revision=revision)
    except HFValidationError:
        raise UserError(f"{what} '{model_id}' is neither an existing folder nor a valid Hugging Face Hub id (owner/name); fix {option}") from None
    cached = cached if isinstance(cached, str) else None
    offline = hub_offline() if local_files_only is None else local_files_only
    if offline:
        if cached is None:
            raise _missing(what, model_id, option, "not in the Hugging Face cache and the Hub is offline (HF_HUB_OFFLINE or local_files_only)")
        return ModelSource(model_id, model_id, revision, _commit_of(cached) or revision or "unknown", True, cached)

    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(model_id, probe_file, revision=revision), timeout=probe_timeout)
    except Exception as exc:
        problem = _hub_problem(exc, what, model_id, revision, probe_file, option)
        if problem is not None:
            raise problem from None
        # Connection refused, DNS, timeout, proxy, 5xx ...: the Hub is unreachable.
        reason = f"the Hub cannot be reached: {type(exc).__name__}"
        if cached is None:
            raise _missing(what, model_id, option, f"not in the Hugging Face cache and {reason}") from None
        log.warning("%s; using the cached copy of %s", reason, model_id)
        return ModelSource(model_id, model_id, revision, _commit_of(cached) or revision or "unknown", True, cached)
    try:
        probe = hf_hub_download(model_id, probe_file, revision=revision)
    except Exception as exc:
        raise _missing(what, model_id, option, f"download of {probe_file} failed: {type(exc).__name__}") from None
    return ModelSource(model_id, model_id, revision, meta.commit_hash or _commit_of(probe) or revision or "unknown", False, probe)


def _hub_problem(exc: Exception, what: str, model_id: str, revision: str | None, probe_file: str, option: str) -> UserError | None:
    """A UserError for answers from the Hub that no retry will change; None otherwise."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, hf_errors.GatedRepoError):
        return UserError(f"{what} '{model_id}' is gated: accept its licence on the Hub and log in with `hf auth login`, or pass a local folder via {option}")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return UserError(f"{what} '{model_id}' does not exist on the Hub (or is private: log in with `hf auth login`); fix {option}")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return UserError(f"{what} '{model_id}' has no revision '{revision}'; fix the revision or {option}")
    if isinstance(exc, hf_errors.EntryNotFoundError) and not isinstance(exc, hf_errors.LocalEntryNotFoundError):
        return UserError(f"{what} '{model_id}' has no {probe_file}: it is not a diffusers/transformers model repo of the expected kind; fix {option}")
    return None


def _commit_of(cached_file: str) -> str | None:
    """The commit hash in a Hub-cache path: .../snapshots/<commit>/<file>."""
    parts = Path(cached_file).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def load_or_explain(load, source: ModelSource, what: str, option: str):
    """Call ``load()``; turn 'file missing' errors into one-line UserErrors."""
    try:
        return load()
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        lowered = message.lower()
        if isinstance(exc, OSError) or any(k in lowered for k in ("not found", "no such file", "does not appear to have", "cannot find", "offline", "local_files_only")):
            where = "local folder" if source.resolved.startswith("local:") else ("Hugging Face cache" if source.local_files_only else "Hub")
            raise UserError(
                f"{what} '{source.id}' could not be loaded from the {where}: {message[:300]}; download it completely with "
                f"`hf download {source.id}` on a machine with network, or pass a complete local folder via {option}"
            ) from None
        raise


# First versions whose from_pretrained reads ``dtype=``; older ones read only ``torch_dtype=``
# (and silently ignore ``dtype=``: an fp16 request loads fp32).
DTYPE_KWARG_SINCE = {"diffusers": (0, 42), "transformers": (4, 56)}


def _version_tuple(version: str) -> tuple[int, ...]:
    import re

    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def dtype_kwarg(library: str, version: str | None = None) -> str:
    """``"dtype"`` or ``"torch_dtype"``: the keyword the installed ``library``'s
    ``from_pretrained`` honours (``library`` is ``diffusers`` or ``transformers``)."""
    if version is None:
        import importlib

        version = importlib.import_module(library).__version__
    return "dtype" if _version_tuple(version) >= DTYPE_KWARG_SINCE[library] else "torch_dtype"
