"""Progress bars for long work: count, rate, elapsed time and ETA, on stderr.

One implementation for every command (generate, export, train-pose, eval-pose, filter,
prompts build), so they look alike and stdout keeps only results. Silent when disabled
(tests, ``--no-progress``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Advance = Callable[..., None]  # advance(n=1, info=None)


def _silent(n: int = 1, info: str | None = None) -> None:
    return None


class Progress:
    """``with Progress(enabled) as bars: advance = bars.task("features", total, unit="img")``."""

    def __init__(self, enabled: bool = True, transient: bool = False):
        self.enabled, self.transient = enabled, transient
        self._progress = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=self.transient,
            )
            self._progress.start()
        return self

    def task(self, description: str, total: int, done: int = 0, unit: str = "it") -> Advance:
        """A bar for ``total`` steps (``done`` of them already finished, e.g. on resume); returns
        ``advance(n=1, info=None)``. The rate counts only steps made since now."""
        if self._progress is None:
            return _silent
        progress = self._progress
        task = progress.add_task(description, total=total, completed=done, rate="", info="")
        started = time.perf_counter()
        made = 0

        def advance(n: int = 1, info: str | None = None) -> None:
            nonlocal made
            made += n
            rate = f"{made / max(time.perf_counter() - started, 1e-9):.1f} {unit}/s"
            progress.update(task, advance=n, rate=rate, **({"info": info} if info is not None else {}))

        return advance

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
