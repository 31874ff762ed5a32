"""Settings of the pose estimator: one head config, shared by training and the KCF filter.

``HeadConfig`` holds what shapes the network (backbone, weights, crop, head sizes) with one
default each; :class:`TrainConfig` (``dst3d train-pose``) adds the fine-tuning schedule and
``dst3d.kcf.config.KcfConfig`` the filter's folds and rule. Both are pydantic models
(``extra="forbid"``); validate with :func:`dst3d.config.validated` for one-line errors.
This module imports no torch, so the CLI can build its help from the models cheaply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import UserError
from .bins import PoseBins

Backbone = Literal["mobilenet_v2", "resnet18", "resnet50", "tiny"]  # = posenet.model.BACKBONES
# The block a backbone's features are taken from when ``feature_layer`` is not given:
# MobileNetV2's first 14 blocks (96 channels at 1/16 resolution) keep the spatial detail that
# tells left from right; the other backbones use all their blocks.
MID_LEVEL_BLOCKS = {"mobilenet_v2": 14}


class HeadConfig(BaseModel):
    """The network: backbone, its weights, the crop and the head (one default each)."""

    model_config = ConfigDict(extra="forbid")

    backbone: Backbone = "mobilenet_v2"
    weights: str = "imagenet"  # imagenet, none, or a .safetensors/.pth file
    size: int = Field(128, ge=16, le=1024)  # square crop around the bbox, pixels
    margin: float = Field(0.15, ge=0.0, le=2.0)  # crop margin around the bbox (fraction of its side)
    hidden: int = Field(256, ge=1)  # head MLP width
    reduce: int = Field(64, ge=1)  # 1x1 reduction of the feature map's channels
    grid: int = Field(4, ge=1)  # the feature map is pooled to grid x grid
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    feature_layer: int | None = Field(None, ge=0)  # backbone blocks used; None: MID_LEVEL_BLOCKS or all; 0: all

    def backbone_layer(self) -> int | None:
        """The number of backbone blocks the model keeps (None: all of them)."""
        if self.feature_layer is None:
            return MID_LEVEL_BLOCKS.get(self.backbone)
        return self.feature_layer or None

    def model_settings(self, bins: str, classes: list[str], class_names: dict[str, str], **extra) -> dict:
        """Keyword arguments of ``posenet.model.ModelConfig`` for these settings."""
        return dict(
            backbone=self.backbone, bins=PoseBins.parse(bins).counts(), classes=list(classes),
            class_names={c: class_names[c] for c in classes}, reduce=self.reduce, grid=self.grid, hidden=self.hidden,
            dropout=self.dropout, size=self.size, margin=self.margin, feature_layer=self.backbone_layer(), **extra,
        )


def check_bins(value: str) -> str:
    """A bins spec (``24`` or ``24,12,24``), normalized to three counts."""
    try:
        bins = PoseBins.parse(value)
    except UserError as exc:
        raise ValueError(str(exc).replace("--bins ", "")) from None
    return f"{bins.azimuth},{bins.elevation},{bins.theta}"


class TrainConfig(HeadConfig):
    """``dst3d train-pose``: fine-tuning (default) or a head on frozen features."""

    epochs: int = Field(10, ge=1)  # passes over the training samples
    bins: str = "36,18,36"  # azimuth, elevation, theta
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0.0)  # head learning rate
    backbone_lr_scale: float = Field(0.1, ge=0.0)  # backbone lr = lr x this
    weight_decay: float = Field(1e-4, ge=0.0)
    freeze_backbone: bool = False
    rotation_head: bool = False
    class_heads: bool = True
    augment: bool = True  # box/colour jitter and mirror flips while fine-tuning (and the effects below)
    occlusion: float = Field(0.5, ge=0.0, le=1.0)  # probability of random erasing per crop (posenet.augment)
    low_res: float = Field(0.3, ge=0.0, le=1.0)  # probability of down-up sampling by 0.3-0.8 per crop
    blur: float = Field(0.3, ge=0.0, le=1.0)  # probability of a Gaussian blur per crop
    symmetric_targets: bool = True  # fold the azimuth target of z-symmetric models into one symmetry period
    val_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    # "network" trains bin classifiers; "templates" keeps every training image as a template
    # (frozen features under its silhouette, posenet.templates): no training, transfers to photos
    method: Literal["network", "templates"] = "network"
    template_layers: list[int] = Field([7, 14], min_length=1)  # backbone blocks the templates compare (MobileNetV2: 7 = 1/8, 14 = 1/16)
    template_mask: bool = True  # compare only under each template's silhouette (False: the whole crop, background included)
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    split: str = "train"
    seed: int = 0

    @field_validator("bins", mode="before")
    @classmethod
    def _check_bins(cls, value):
        return check_bins(value)
