"""Appearance backends: control images + prompt + seed in, an image out.

``load_backend(name, options)`` builds a backend from its ``backend_options``;
``backend_from_settings(record.generation)`` rebuilds the one a record was made with;
``preflight(name, options, control_kinds)`` checks everything without loading a model.
Options are one pydantic model per backend: ``options_model("render")``,
``options_model("controlnet")``.
"""

from .base import (
    BACKENDS,
    AppearanceBackend,
    AppearanceRequest,
    Generated,
    backend_class,
    backend_from_settings,
    backend_options,
    load_backend,
    options_model,
    preflight,
    settings_to_options,
)

__all__ = [
    "BACKENDS", "AppearanceBackend", "AppearanceRequest", "Generated", "backend_class", "backend_from_settings",
    "backend_options", "load_backend", "options_model", "preflight", "settings_to_options",
]
