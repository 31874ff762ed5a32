"""Every module imports: CLI commands import their stage lazily, so a broken import would
otherwise surface only when a user runs that one command."""

import importlib
import pkgutil

import pytest

import dst3d

MODULES = sorted(m.name for m in pkgutil.walk_packages(dst3d.__path__, "dst3d."))


def test_modules_found():
    assert {"dst3d.hub.hub", "dst3d.pipeline.run", "dst3d.kcf.filter"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)
