"""`dst3d publish`: upload a dataset folder to a Hugging Face dataset repo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def publish_command(
    data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
    repo_id: str = typer.Option(..., "--repo-id", help="dataset repo OWNER/NAME on the Hub (created if missing)"),
    private: bool = typer.Option(False, "--private", help="create the repo private (or make an existing one private)"),
    revision: Optional[str] = typer.Option(None, "--revision", help="branch to commit to, created from main if missing (default: main)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be uploaded and its size; contact nothing"),
    token: Optional[str] = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the `hf auth login` cache; prefer those: a command line is visible to other users)", show_default=False),
    license: str = typer.Option("cc-by-4.0", "--license", help="licence id for the card's metadata"),
    message: Optional[str] = typer.Option(None, "--message", help="commit message"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="upload progress bars (default: when stderr is a terminal)", show_default=False),
) -> None:
    """Upload the shards and a dataset card generated from the data, as one commit.

    Republishing replaces old shards in the same commit; an interrupted upload can simply
    be run again (what already arrived is not sent twice).
    """
    import sys

    from .hub import human_size, publish

    if not (progress if progress is not None else sys.stderr.isatty()):
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    result = publish(data, repo_id, token=token, private=private, revision=revision, dry_run=dry_run, license=license, message=message)
    width = max(len(human_size(f.size)) for f in result.files)
    head = "would upload" if result.dry_run else "uploaded"
    typer.echo(f"{head} to {result.repo_id}@{result.revision} (dataset repo): {len(result.files)} files, {human_size(result.total_bytes)}")
    for f in result.files:
        typer.echo(f"  {human_size(f.size):>{width}}  {f.path_in_repo}")
    if result.dry_run:
        typer.echo("remote files under data/, assets/ and kcf/ that are not listed above would be deleted in the same commit")
        return
    for path in result.deleted:
        typer.echo(f"  deleted  {path}")
    typer.echo(f"commit: {result.commit_url}")


def register(app: typer.Typer) -> None:
    app.command("publish")(publish_command)
