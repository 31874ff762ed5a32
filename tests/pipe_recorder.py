"""Test helper: record every call a backend makes to its diffusers pipeline."""

from __future__ import annotations


def call_recorder(backend) -> list[dict]:
    """Wrap the backend's pipeline: the keyword arguments of every call (the pipeline still runs)."""
    calls: list[dict] = []
    pipe = backend.pipe

    class Recorder:
        def __call__(self, **kwargs):
            calls.append(kwargs)
            return pipe(**kwargs)

        def __getattr__(self, name):
            return getattr(pipe, name)

    backend.pipe = Recorder()
    return calls
