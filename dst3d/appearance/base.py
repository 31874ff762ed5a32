"""The appearance backends by name: control images + prompt + seed in, an image out.

Backends are interchangeable: the pipeline hands each the same requests, whatever makes
the pixels (a domain-randomized render, a ControlNet diffusion model, ...). Each backend has
one pydantic options model (``backend_options`` in a job config):

- ``render``: :class:`dst3d.appearance.render.RenderBackendConfig`
- ``controlnet``: :class:`dst3d.appearance.controlnet.ControlNetConfig`

This module is the registry. It imports the backends (inside functions, so only the one
asked for is loaded); the backends import only :mod:`.request`. A record's ``generation``
JSON (the backend's ``settings()``) rebuilds an equal backend: :func:`backend_from_settings`.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import UserError
from .request import AppearanceBackend, AppearanceRequest, Generated, validate_options

__all__ = [
    "BACKENDS", "AppearanceBackend", "AppearanceRequest", "Generated", "backend_class", "backend_from_settings",
    "backend_options", "load_backend", "options_model", "preflight", "settings_to_options",
]

BACKENDS = {"render": "offline, CPU: domain-randomized shading of the render", "controlnet": "diffusers ControlNet (SD1.5 / SDXL)"}


def backend_class(name: str) -> type:
    """The backend class registered under ``name``."""
    if name == "render":
        from .render import RenderBackend

        return RenderBackend
    if name == "controlnet":
        from .controlnet import ControlNetBackend

        return ControlNetBackend
    raise UserError(f"unknown backend '{name}'; choose 'render' (offline, CPU) or 'controlnet' (diffusers)")


def options_model(name: str) -> type:
    """The pydantic options model of backend ``name`` (fields, defaults and descriptions)."""
    return backend_class(name).options_model


def backend_options(name: str, options: dict | None = None):
    """Validated options of backend ``name``; a bad value is one UserError line naming it
    (``invalid backend_options.<field>: <why>``)."""
    return validate_options(options_model(name), options)


def load_backend(name: str, options: dict | None = None) -> AppearanceBackend:
    """Backend ``name`` built from its ``backend_options``; heavy dependencies (torch,
    diffusers) are imported only for the one asked for."""
    return backend_class(name)(backend_options(name, options))


def settings_to_options(settings: dict | str, pin_revisions: bool = False) -> tuple[str, dict]:
    """(backend name, options) from a record's ``generation`` settings (dict or JSON text).

    ``pin_revisions``: Hub models whose revision was not set are pinned to the commit that
    was loaded, so the rebuilt backend loads exactly the same weights even if the Hub moved.
    """
    if isinstance(settings, str):
        settings = json.loads(settings)
    if not isinstance(settings, dict) or "backend" not in settings:
        raise UserError("a record's generation settings must be a JSON object with a 'backend' key")
    settings = {k: v for k, v in settings.items() if k not in ("retry", "tiled")}  # a sample's own notes are no option
    name = str(settings["backend"])
    cls = backend_class(name)
    options = cls.options_from_settings(settings, pin_revisions=pin_revisions) if hasattr(cls, "options_from_settings") else {
        k: v for k, v in settings.items() if k != "backend"
    }
    return name, options


def backend_from_settings(settings: dict | str, pin_revisions: bool = False) -> AppearanceBackend:
    """The backend a record was generated with, rebuilt from its ``generation`` settings:
    ``backend_from_settings(record.generation).settings() == record.generation`` (same
    machine and library versions; with ``pin_revisions`` the unset Hub revisions become the
    loaded commits)."""
    name, options = settings_to_options(settings, pin_revisions=pin_revisions)
    return load_backend(name, options)


def preflight(name: str, options: dict | None, control_kinds: list[str]) -> None:
    """Everything about the backend that can fail, checked without loading a model: for a
    run whose workers load it later, so bad input fails before anything is written."""
    cls = backend_class(name)
    config = backend_options(name, options)
    check: Any = getattr(cls, "preflight", None)
    if check is not None:
        check(config, control_kinds)
