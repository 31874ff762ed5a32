"""The Python API: one function per job, the same the command line runs.

``import dst3d`` gives these names (loaded on first use, so importing is cheap)::

    import dst3d

    job = dst3d.load_job(overrides={"classes": ["car", "chair"], "per_class": 50})
    dst3d.generate(job, "out/cars")
    dst3d.filter("out/cars")                      # K-fold consistency filter
    dst3d.train_pose("out/cars", "runs/cars", split="filtered")
    dst3d.evaluate_pose("runs/cars", "out/cars")
    dst3d.score_dataset("out/cars", model="openai/clip-vit-base-patch32")  # CLIP class presence (+ vlm=...)
    dst3d.export("out/cars", "out/cars-bop", format="bop")
    dst3d.publish("out/cars", "me/cars-pose", dry_run=True)

Every function validates all of its input before it writes anything, and reports bad input
as a :class:`dst3d.UserError` whose message is one line that says what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .config import validated
from .errors import UserError
from .pipeline.job import JobConfig
from .pipeline.job import load_job as _load_job

M = TypeVar("M", bound=BaseModel)
PathLike = str | Path


def load_job(path: PathLike | None = None, overrides: dict | None = None, *, backend_options: dict | None = None) -> JobConfig:
    """A job from a YAML/JSON file and/or plain values.

    Args:
        path (`str` or `Path`, *optional*, defaults to `None`): job file; its settings are
            the base.
        overrides (`dict`, *optional*, defaults to `None`): settings on top of the file
            (`None` values are ignored), e.g. `{"classes": ["car"], "per_class": 20}`.
        backend_options (`dict`, *optional*, defaults to `None`): merged into, not replacing,
            the job's `backend_options` (e.g. `{"steps": 20, "base_model": "..."}`).

    Returns:
        `JobConfig`: the validated job.
    """
    return _load_job(None if path is None else Path(path), overrides or {}, backend_options=backend_options)


def generate(job: JobConfig | dict | PathLike, out: PathLike, *, progress: bool = False, engine: str = "local",
             workers: int = 1, address: str | None = None):
    """Generate (or resume) a pose-labelled dataset into `out`.

    Args:
        job (`JobConfig`, `dict` or path): the job; a dict is validated as a `JobConfig`, a
            path is read with :func:`load_job`.
        out (`str` or `Path`): output folder, a Hugging Face dataset repository as it stands.
            Running again with the same job resumes; another job there is refused.
        progress (`bool`, *optional*, defaults to `False`): a progress bar on stderr.
        engine (`str`, *optional*, defaults to `"local"`): `"local"` (this process, or worker
            processes when `workers > 1`) or `"ray"` (a Ray cluster).
        workers (`int`, *optional*, defaults to `1`): worker processes or appearance actors.
        address (`str`, *optional*, defaults to `None`): Ray cluster address (a local one if None).

    Returns:
        `RunSummary`: folder, sample count, seconds and time per stage of this run.
    """
    from .pipeline.run import run_job

    if isinstance(job, (str, Path)):
        job = load_job(job)
    elif isinstance(job, dict):
        job = validated(JobConfig, job, "job setting")
    return run_job(job, Path(out), progress=progress, engine=engine, workers=workers, address=address)


def _config(model: type[M], config: M | dict | None, settings: dict, what: str) -> M:
    """A settings model from a model, a dict and/or keyword settings (keywords win)."""
    base = config.model_dump(exclude_unset=True) if isinstance(config, BaseModel) else dict(config or {})
    return validated(model, {**base, **{k: v for k, v in settings.items() if v is not None}}, what)


def filter(data: PathLike, config=None, *, cad_library: PathLike | None = None, progress: bool = False, **settings: Any) -> dict:  # noqa: A001
    """K-fold consistency filter: score every sample by held-out pose estimation and control
    agreement; keep or drop by a rule.

    Args:
        data (`str` or `Path`): a dataset folder made by :func:`generate`.
        config (`KcfConfig` or `dict`, *optional*, defaults to `None`): filter settings
            (`dst3d.kcf.filter.KcfConfig`; its defaults are the documented default rule).
        cad_library (`str` or `Path`, *optional*, defaults to `None`): CAD library; the one
            the dataset was made with by default.
        progress (`bool`, *optional*, defaults to `False`): progress bars on stderr.
        **settings: `KcfConfig` fields, over `config` (e.g. `folds=5`, `quantile=0.1`).

    Returns:
        `dict`: the report also written to `data/kcf/report.json` (rule, counts per class,
        compute seconds). The kept rows become the `filtered` split; the train shards stay.
    """
    from .kcf.filter import KcfConfig, run_filter

    cfg = _config(KcfConfig, config, settings, "filter setting")
    return run_filter(Path(data), cfg, progress=progress, cad_library=None if cad_library is None else str(cad_library))


def train_pose(data: PathLike, out: PathLike, config=None, *, cad_library: PathLike | None = None, overwrite: bool = False,
               progress: bool = False, **settings: Any) -> dict:
    """Train a pose estimator (bin classifiers for azimuth, elevation, theta) on a dataset.

    Args:
        data (`str` or `Path`): a dataset folder made by :func:`generate`.
        out (`str` or `Path`): run folder for `model.safetensors`, `config.json`, `metrics.json`.
        config (`TrainConfig` or `dict`, *optional*, defaults to `None`): training settings
            (`dst3d.posenet.train.TrainConfig`).
        cad_library (`str` or `Path`, *optional*, defaults to `None`): CAD library with the
            symmetry tags; the dataset's own by default.
        overwrite (`bool`, *optional*, defaults to `False`): replace a model already in `out`.
        progress (`bool`, *optional*, defaults to `False`): progress bars on stderr.
        **settings: `TrainConfig` fields, over `config` (e.g. `epochs=5`, `split="filtered"`).

    Returns:
        `dict`: the metrics also written to `out/metrics.json`.
    """
    from .posenet.train import TrainConfig
    from .posenet.train import train_pose as _train

    cfg = _config(TrainConfig, config, settings, "training setting")
    return _train(Path(data), Path(out), cfg, progress=progress, overwrite=overwrite, cad_library=None if cad_library is None else str(cad_library))


def evaluate_pose(run: PathLike, data: PathLike, *, split: str = "train", out: PathLike | None = None,
                  cad_library: PathLike | None = None, batch_size: int = 64, classes: list[str] | None = None,
                  min_visibility: float | None = None, progress: bool = False) -> dict:
    """Acc@pi/6, Acc@pi/18 and median rotation error of a trained model on a dataset.

    Args:
        run (`str` or `Path`): a run folder made by :func:`train_pose`.
        data (`str` or `Path`): a dataset folder to evaluate on.
        split (`str`, *optional*, defaults to `"train"`): the dataset split.
        out (`str` or `Path`, *optional*, defaults to `None`): JSON file for the metrics
            (default: `run/eval-<data name>.json`).
        cad_library (`str` or `Path`, *optional*, defaults to `None`): symmetry tags; the
            dataset's own library by default.
        batch_size (`int`, *optional*, defaults to `64`): images per forward pass.
        classes (`list[str]`, *optional*, defaults to `None`): only these classes (synsets or names).
        min_visibility (`float`, *optional*, defaults to `None`): only samples at least this
            visible (`visible_fraction`, 0-1).
        progress (`bool`, *optional*, defaults to `False`): progress bars on stderr.

    Returns:
        `dict`: metrics per class and overall.
    """
    from .posenet.evaluate import evaluate_run

    target = Path(out) if out is not None else Path(run) / f"eval-{Path(data).resolve().name}.json"
    return evaluate_run(Path(run), Path(data), split, target, None if cad_library is None else str(cad_library), progress, batch_size,
                        classes=classes, min_visibility=min_visibility)


def export(data: PathLike, out: PathLike, format: str = "bop", *, split: str = "train", cad_library: PathLike | None = None,  # noqa: A002
           depth: bool = True, progress: bool = False) -> Path:
    """Write a dataset split in another layout; nothing is written on error.

    Args:
        data (`str` or `Path`): a dataset folder made by :func:`generate`.
        out (`str` or `Path`): a new folder for the export.
        format (`str`, *optional*, defaults to `"bop"`): `"bop"` or `"coco"`.
        split (`str`, *optional*, defaults to `"train"`): the dataset split (e.g. `"filtered"`).
        cad_library (`str` or `Path`, *optional*, defaults to `None`): BOP models come from it;
            the dataset's own library by default.
        depth (`bool`, *optional*, defaults to `True`): BOP only: re-render depth and masks.
        progress (`bool`, *optional*, defaults to `False`): a progress bar on stderr.

    Returns:
        `Path`: `out`.
    """
    from .exporters import export as _export

    return _export(Path(data), format, Path(out), None if cad_library is None else Path(cad_library), split, depth=depth, progress=progress)


def score_dataset(data: PathLike, *, model: str | None = "openai/clip-vit-base-patch32", vlm: str | None = None,
          progress: bool = False, **settings: Any) -> dict:
    """Model-based scores per sample into `data/score/scores.parquet` (`dst3d score`; usable by
    :func:`filter` as `min_clip_prob` / `min_vlm_rating`). Named apart from the `dst3d.score` package.

    Args:
        data (`str` or `Path`): a dataset folder made by :func:`generate`.
        model (`str`, *optional*, defaults to `"openai/clip-vit-base-patch32"`): CLIP hub id or
            local folder for the class-presence score; `None`: no CLIP score.
        vlm (`str`, *optional*, defaults to `None`): an image-text-to-text model (hub id or folder)
            that rates each image or view group 1-5 with a reason and a caption.
        progress (`bool`, *optional*, defaults to `False`): progress bars on stderr.
        **settings: other `dst3d.score.run.ScoreSettings` fields (`competitors`, `crop`,
            `grouping`, `batch_size`, `device`, `dtype`, ...).

    Returns:
        `dict`: the summary also written to `data/score/score.json`.
    """
    from .score.run import ScoreSettings, run_score

    try:
        chosen = ScoreSettings(clip=model, vlm=vlm, **settings)
    except TypeError as exc:
        raise UserError(f"unknown score setting: {exc}") from None
    chosen.check()
    return run_score(Path(data), chosen, progress=progress)


def publish(data: PathLike, repo_id: str, *, token: str | None = None, private: bool = False, revision: str | None = None,
            dry_run: bool = False, license: str = "cc-by-4.0", message: str | None = None):  # noqa: A002
    """Upload a dataset folder's shards and a card generated from its data to the Hub, as one commit.

    Args:
        data (`str` or `Path`): a dataset folder made by :func:`generate`.
        repo_id (`str`): the dataset repo `OWNER/NAME` (created if missing).
        token (`str`, *optional*, defaults to `None`): Hub token (default: `HF_TOKEN` or the
            login cache).
        private (`bool`, *optional*, defaults to `False`): create (or make) the repo private.
        revision (`str`, *optional*, defaults to `None`): branch to commit to (default `main`).
        dry_run (`bool`, *optional*, defaults to `False`): list what would be uploaded; contact nothing.
        license (`str`, *optional*, defaults to `"cc-by-4.0"`): licence id for the card.
        message (`str`, *optional*, defaults to `None`): commit message.

    Returns:
        `PublishResult`: files, sizes, deleted remote files and the commit URL.
    """
    from .hub.hub import publish as _publish

    return _publish(Path(data), repo_id, token=token, private=private, revision=revision, dry_run=dry_run, license=license, message=message)


def inspect(data: PathLike, out: PathLike | None = None, n: int = 16) -> list[Path]:
    """Write a contact sheet (image, control, pose axes) and a pose-distribution plot.

    Args:
        data (`str` or `Path`): a dataset folder.
        out (`str` or `Path`, *optional*, defaults to `None`): folder for the PNGs (`data/inspect`).
        n (`int`, *optional*, defaults to `16`): samples on the contact sheet (at least 1).

    Returns:
        `list[Path]`: the PNG files written.
    """
    from .viz.inspect import inspect_dataset

    if n < 1:
        raise UserError(f"the contact sheet needs at least one sample, got n={n}")
    return inspect_dataset(Path(data), Path(out) if out is not None else Path(data) / "inspect", n)
