"""Pose by template retrieval: a crop's pose is the pose of the generated image it resembles most.

``dst3d train-pose --method templates`` keeps, for every training image, the frozen
ImageNet backbone's local features of its crop at a few blocks (unit length per location)
and the object's silhouette in the crop, re-rendered from the record's own label (the
silhouette is not stored in the dataset; the re-render is exact). A query crop is compared
with the templates of its class only: the similarity is the mean cosine of the local
features over the template's silhouette, summed over the blocks, so background clutter
outside the object (the photo's table, the render's random backdrop) does not count. The
prediction is the best template's viewpoint label.

Why: a classifier fine-tuned on a CPU budget learns too little of a realistic render set
to transfer (sim-to-real on LM-O: 0.17 Acc@pi/6), while frozen mid-level features matched
under the silhouette need no training at all and transfer from renders of a textured model
to photographs of the object (the masked-template idea of Nguyen et al., CVPR 2022,
"Templates for 3D Object Pose Estimation Revisited", here with ImageNet features).
The index is a state dict like a network's (``model.safetensors``): the backbone blocks
and the template tensors as buffers, loaded without pickle.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..render.scene import Rerenderer
from ..store.dataset import open_dataset
from .data import Records, crop
from .model import IMAGENET_MEAN, IMAGENET_STD, ModelConfig, build_backbone, to_float

MASK_COLUMNS = ["id", "cad_id", "R", "t", "K", "width", "height", "render"]


def silhouettes(records: Records, size: int, margin: float, advance=None) -> np.ndarray:
    """(N, size, size) float32 silhouettes of the records' objects in their crops, re-rendered
    from each record's label (visible pixels: stored distractors are drawn too)."""
    rows = {r.id: r for r in open_dataset(records.root, records.split).records(MASK_COLUMNS)}
    out = np.empty((len(records), size, size), np.float32)
    with Rerenderer(records.library) as renderer:
        for i, (rid, box) in enumerate(zip(records.ids.tolist(), records.bbox)):
            mask = renderer.view(rows[rid]).mask.astype(np.uint8) * 255
            out[i] = crop(np.repeat(mask[..., None], 3, 2), box, size, margin)[..., 0] / 255.0
            if advance:
                advance(1)
    return out


def check_layers(backbone: str, layers: list[int]) -> None:
    """One line when ``layers`` are not blocks of ``backbone`` (before any work is done)."""
    blocks = len(build_backbone(backbone, "none")[0])
    if not layers or min(layers) < 1 or max(layers) > blocks:
        raise UserError(f"template layers must be between 1 and {blocks} for backbone {backbone}, got {list(layers)}; e.g. --template-layers 7,14")


def pool_mask(masks: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Silhouettes averaged onto a feature map's grid: each cell's weight = its object share."""
    return F.adaptive_avg_pool2d(masks[:, None].float(), shape)[:, 0]


class TemplateMatcher(nn.Module):
    """Frozen backbone blocks + the template index; ``forward(images, cls)`` -> angles, similarity."""

    def __init__(self, config: ModelConfig, backbone: nn.Module, templates: dict[str, torch.Tensor] | None = None):
        super().__init__()
        self.config = config
        self.layers = [int(layer) for layer in config.template_layers]
        self.backbone = backbone.eval()
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for key, value in (templates or {}).items():
            self.register_buffer(key, value)

    @torch.no_grad()
    def local_features(self, images: torch.Tensor) -> dict[int, torch.Tensor]:
        """Unit-length local features of uint8 (B, H, W, 3) crops at each template layer."""
        h = (to_float(images) - self.mean) / self.std
        out = {}
        for index, block in enumerate(self.backbone[: max(self.layers)], start=1):
            h = block(h)
            if index in self.layers:
                out[index] = F.normalize(h, dim=1)
        return out

    @torch.no_grad()
    def similarity(self, images: torch.Tensor, cls: torch.Tensor) -> torch.Tensor:
        """(B, T) masked cosine similarity (mean over the layers) of each query to every
        template, in [-1, 1]; -inf for templates of other classes."""
        feats = self.local_features(images)
        total = torch.full((len(images), len(self.template_angles)), float("-inf"))
        for c in cls.unique():
            q = torch.nonzero(cls == c)[:, 0]
            t = torch.nonzero(self.template_class == c)[:, 0]
            if not len(t):
                continue
            sim = 0.0
            for layer in self.layers:
                bank = getattr(self, f"features_{layer}")[t].float()  # (T, C, h, w)
                weight = getattr(self, f"weights_{layer}")[t].float()  # (T, h, w)
                local = torch.einsum("qchw,tchw->qthw", feats[layer][q], bank)
                sim = sim + (local * weight[None]).sum((2, 3)) / weight.sum((1, 2)).clamp(min=1e-6)[None]
            total[q[:, None], t[None, :]] = sim / len(self.layers)
        return total

    def forward(self, images: torch.Tensor, cls: torch.Tensor | None = None, exclude: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Best template per query: its ``angles`` (B, 3) and ``similarity`` (B,); ``exclude``
        (B,) template indices a query may not match (itself, for leave-one-out scores)."""
        cls = torch.zeros(len(images), dtype=torch.long) if cls is None else cls.long()
        sim = self.similarity(images, cls)
        if exclude is not None:
            sim[torch.arange(len(images)), exclude.long()] = float("-inf")
        best = sim.max(1)
        return {"angles": self.template_angles[best.indices].double(), "similarity": best.values, "template": best.indices}


def build_matcher(config: ModelConfig, weights: str, records: Records, cls: np.ndarray, crops: np.ndarray,
                  masks: np.ndarray, batch_size: int = 64, advance=None) -> tuple[TemplateMatcher, str]:
    """The matcher holding one template per record (features stored as float16)."""
    backbone, source = build_backbone(config.backbone, weights, max(config.template_layers))
    matcher = TemplateMatcher(config, backbone)
    banks: dict[int, list[torch.Tensor]] = {layer: [] for layer in matcher.layers}
    for start in range(0, len(crops), batch_size):
        feats = matcher.local_features(torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size])))
        for layer, value in feats.items():
            banks[layer].append(value.half())
        if advance:
            advance(min(batch_size, len(crops) - start))
    templates = {"template_angles": torch.from_numpy(records.angles.astype(np.float64)), "template_class": torch.from_numpy(cls.astype(np.int64))}
    for layer, chunks in banks.items():
        bank = torch.cat(chunks)
        templates[f"features_{layer}"] = bank
        templates[f"weights_{layer}"] = pool_mask(torch.from_numpy(masks), bank.shape[2:]).half()
    return TemplateMatcher(config, backbone, templates), source


def matcher_from_state(config: ModelConfig, state: dict[str, torch.Tensor]) -> TemplateMatcher:
    """A saved matcher: backbone weights and template buffers from its state dict."""
    backbone, _ = build_backbone(config.backbone, "none", max(config.template_layers))
    templates = {k: v for k, v in state.items() if k.startswith(("features_", "weights_", "template_"))}
    matcher = TemplateMatcher(config, backbone, templates)
    missing, unexpected = matcher.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserError(f"the template index does not match its config (missing {missing[:3]}, unexpected {unexpected[:3]}); rebuild it with `dst3d train-pose --method templates`")
    return matcher.eval()


@torch.no_grad()
def predict_templates(matcher: TemplateMatcher, crops: np.ndarray, cls: np.ndarray, batch_size: int = 64,
                      exclude: np.ndarray | None = None, advance=None) -> dict[str, torch.Tensor]:
    """Best-template outputs for uint8 crops, batched (``exclude``: per-query template index)."""
    chunks = []
    for s in range(0, len(crops), batch_size):
        ex = None if exclude is None else torch.from_numpy(exclude[s : s + batch_size])
        chunks.append(matcher(torch.from_numpy(np.ascontiguousarray(crops[s : s + batch_size])), torch.from_numpy(cls[s : s + batch_size]), ex))
        if advance:
            advance(len(chunks[-1]["angles"]))
    return {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}


__all__ = ["TemplateMatcher", "build_matcher", "matcher_from_state", "predict_templates", "silhouettes", "pool_mask"]
