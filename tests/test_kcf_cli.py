"""`dst3d filter` options: every default shown in --help is the settings model's; a bad
value is one line naming the setting."""

from __future__ import annotations

import re

from dst3d.kcf.config import KcfConfig

NOT_SETTINGS = {"cad_library", "progress", "help", "overwrite"}  # command switches, not settings


def option_help(cli, command: str) -> dict[str, str]:
    """Each option's help text in `dst3d COMMAND --help` as printed (one line per option)."""
    result = cli(command, "--help", env={"COLUMNS": "400", "TERM": "dumb"})
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        match = re.match(r"[│|]\s+(?:\*\s+)?(--[a-z-]+)(?:\s+--[a-z-]+)?\s+<\w+>\s+(.*?)\s*[│|]?$", line)
        if match:
            out[match.group(1)[2:].replace("-", "_")] = match.group(2)
    return out


def check_defaults(shown: dict[str, str], model) -> None:
    settings = {name: text for name, text in shown.items() if name not in NOT_SETTINGS}
    assert settings, shown
    for name, text in settings.items():
        assert name in model.model_fields, f"--{name} is no setting of {model.__name__}"
        default = model.model_fields[name].default
        assert text.endswith(f"(default: {default})"), (name, text)


def test_filter_help_shows_the_models_defaults(cli):
    shown = option_help(cli, "filter")
    check_defaults(shown, KcfConfig)
    assert {"folds", "quantile", "score", "contrast_weight", "threshold_deg", "size", "bins", "epochs"} <= set(shown)


def test_filter_bad_value_is_one_line_naming_the_setting(cli, tmp_path):
    for args, setting in ((["--quantile", "2"], "'quantile'"), (["--score", "nope"], "'score'"), (["--folds", "1"], "'folds'"),
                          (["--quantile", "0.1", "--threshold-deg", "30"], "one rule")):
        result = cli("filter", str(tmp_path), *args, "--no-progress")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and setting in lines[0] and "Traceback" not in result.stderr, result.stderr
