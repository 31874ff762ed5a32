"""Packaging lives in pyproject.toml; this file only adds what TOML cannot say: the
top-level data folders ``cad_aligned/`` and ``prompts/`` go into the wheel as
``dst3d/_shipped/<name>/`` (read through :func:`dst3d.shipped.shipped`)."""

from setuptools import find_namespace_packages, setup

NO_CACHE = ["*__pycache__*"]
SHIPPED = {f"dst3d._shipped.{name}": name for name in ("cad_aligned", "prompts")}


def data_packages(package: str, folder: str) -> list[str]:
    """``package`` and one (namespace) package per subfolder, so every data file has a home."""
    return [package] + [f"{package}.{sub}" for sub in find_namespace_packages(where=folder, exclude=NO_CACHE)]


DATA = [p for package, folder in SHIPPED.items() for p in data_packages(package, folder)]

setup(
    packages=find_namespace_packages(include=["dst3d", "dst3d.*"], exclude=NO_CACHE) + DATA,
    package_dir=SHIPPED,
    package_data={package: ["*"] for package in ["dst3d.render.shaders", *DATA]},
)
