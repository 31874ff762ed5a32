"""CLIP class presence: does the image show its own class, rather than another one?

Each image is compared with ``TEMPLATE`` ("a photo of a {name}") filled in for its own class
and for the competing classes: by default the other ImageNet-1k classes (``competitors="imagenet"``),
or only the dataset's classes (``"dataset"``). Per sample:

* ``clip_class_prob``: softmax probability of the own class over the class set (CLIP's zero-shot
  classifier: logit = logit_scale x cosine(image, text));
* ``clip_class_rank``: 1 + the number of classes with a higher logit (1: CLIP's top guess);
* ``clip_margin``: own logit - the best competing logit (positive iff rank 1);
* ``clip_top``: the synset of the top class.

Text features are computed once; images go through the model in batches under ``torch.no_grad``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..imagenet import imagenet_class, imagenet_classes

DEFAULT_CLIP = "openai/clip-vit-base-patch32"
TEMPLATE = "a photo of a {name}"
COMPETITORS = ("imagenet", "dataset")


def short_name(name: str) -> str:
    """The first of a comma-separated list of names ("beach wagon, station wagon" -> "beach wagon")."""
    return name.split(",")[0].strip()


def class_set(dataset_classes: dict[str, str], competitors: str = "imagenet") -> list[tuple[str, str]]:
    """(synset, name) of every class an image is compared with: the dataset's classes (their
    names as in the dataset) first, in synset order, then the other ImageNet-1k classes."""
    if competitors not in COMPETITORS:
        raise UserError(f"competitors must be one of {', '.join(COMPETITORS)}, not {competitors!r}")
    out = [(s, short_name(n)) for s, n in sorted(dataset_classes.items())]
    if competitors == "imagenet":
        out += [(c.wnid, short_name(c.name)) for c in imagenet_classes() if c.wnid not in dataset_classes]
    return out


def _features(output):
    """get_*_features returns a tensor (transformers 4) or an output with the projected pooler (5)."""
    return output if hasattr(output, "norm") else output.pooler_output


@dataclass
class ClipScorer:
    """A CLIP model and its processor, loaded with ``from_pretrained`` (Hub id or local folder)."""

    model_id: str = DEFAULT_CLIP
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 32
    template: str = TEMPLATE
    source: object = field(init=False, default=None)

    def __post_init__(self) -> None:
        from .models import load_pretrained

        self.source, self.processor, self.model = load_pretrained(self.model_id, self.revision, "CLIP model", "--model", "AutoModel", self.dtype, self.device)
        if not (hasattr(self.model, "get_text_features") and hasattr(self.model, "get_image_features") and hasattr(self.model, "logit_scale")):
            raise UserError(f"model '{self.model_id}' is a {type(self.model).__name__}, not a CLIP model (image and text encoders with a logit scale); pass a CLIP model via --model")
        self.device = str(next(self.model.parameters()).device)

    def text_features(self, texts: list[str]):
        import torch

        chunks = []
        with torch.no_grad():
            for i in range(0, len(texts), 256):
                inputs = self.processor(text=texts[i : i + 256], return_tensors="pt", padding=True, truncation=True)
                inputs = {k: v.to(self.device) for k, v in inputs.items()}
                chunks.append(_features(self.model.get_text_features(**inputs)).float())
        features = torch.cat(chunks)
        return features / features.norm(dim=-1, keepdim=True)

    def logits(self, images: list[np.ndarray], text_features) -> np.ndarray:
        """logit_scale x cosine similarity of every image with every text, (images, texts)."""
        import torch

        with torch.no_grad():
            inputs = self.processor(images=list(images), return_tensors="pt")
            pixels = inputs["pixel_values"].to(self.device, next(self.model.parameters()).dtype)
            features = _features(self.model.get_image_features(pixel_values=pixels)).float()
            features = features / features.norm(dim=-1, keepdim=True)
            return (self.model.logit_scale.exp().float() * features @ text_features.T).cpu().numpy()


def class_scores(logits: np.ndarray, own: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample columns from logits (samples, classes) and each sample's own class index."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(len(own))
    own_logit = logits[rows, own]
    others = logits.copy()
    others[rows, own] = -np.inf
    return {
        "probs": probs,
        "clip_class_prob": probs[rows, own],
        "clip_class_rank": 1 + (logits > own_logit[:, None]).sum(axis=1),
        "clip_margin": own_logit - others.max(axis=1),
        "top": logits.argmax(axis=1),
    }


def definition(synset: str) -> str:
    cls = imagenet_class(synset)
    return cls.definition if cls is not None else ""
