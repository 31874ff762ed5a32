"""Bringing outside annotated data in as dst3d datasets (``dst3d import-bop``)."""

from .bop import ImportSummary, allocentric_rotation, import_bop, nearest_rotation, parse_frames, parse_objects

__all__ = ["ImportSummary", "allocentric_rotation", "import_bop", "nearest_rotation", "parse_frames", "parse_objects"]
