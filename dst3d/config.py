"""Settings as pydantic models: validation with one-line errors, and CLI help from the models.

Configs are plain data (YAML/JSON or keyword arguments); every stage validates them with
:func:`validated`, so a bad value is reported as ``invalid <what> '<setting>': <why>``
naming the setting, never as a traceback. CLI options default to ``None`` and are filled
from the model, so a default lives in exactly one place, and :func:`default_help` shows it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import UserError

M = TypeVar("M", bound=BaseModel)


def error_line(exc: ValidationError, what: str = "setting", prefix: str = "") -> str:
    """The first validation error as one line that names the setting."""
    err = exc.errors()[0]
    where = prefix + ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"invalid {what} '{where}': {msg}" if where else f"invalid {what}: {msg}"


def validated(model: type[M], data: Any, what: str = "setting", prefix: str = "") -> M:
    """``model.model_validate(data)``, a :class:`UserError` naming the setting on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UserError(error_line(exc, what, prefix)) from None


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that were given (not None): CLI options over a model's defaults."""
    return {k: v for k, v in values.items() if v is not None}


def default_help(model: type[BaseModel], field: str, text: str) -> str:
    """Help text ending in the model's default, in parentheses (Rich would eat ``[...]``)."""
    info = model.model_fields[field]
    default = info.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        default = default.model_dump()
    return f"{text} (default: {default})"
