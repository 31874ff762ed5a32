"""dst3d: image datasets with exact 3D pose labels, by 3D Diffusion Style Transfer."""

__version__ = "0.1.0"
