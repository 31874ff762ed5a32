"""A vision-language model rates an image, or a multi-view group, 1-5 with a reason and a caption.

Bootstrap3D has a multimodal LLM rate each multi-view set 1-5 with a reason and write a
30-50-word caption; this is the same for dst3d's data. The model is any transformers
image-text-to-text model with a chat template (``AutoModelForImageTextToText`` +
``AutoProcessor``: LLaVA, Qwen2-VL/Qwen2.5-VL, Idefics3/SmolVLM, ...), loaded with
``from_pretrained`` from a Hub id or a local folder. Decoding is greedy (deterministic).

A group's views are tiled into one image (:func:`tile_views`, in view order, row-major, as
multi-view generation lays them out). The answer is parsed by :func:`parse_answer`: a rating must be a whole number
from 1 to 5; anything else (a missing, malformed or out-of-range rating, as random weights
give) is stored as no rating, with the raw text, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError

ANSWER_FORMAT = (
    "Answer in exactly this format:\n"
    "Rating: <a whole number from 1 to 5>\n"
    "Reason: <one sentence>\n"
    "Caption: <a 30-50 word description of {what}>"
)
IMAGE_PROMPT = (
    "This image should show a {name} ({definition}). Rate it from 1 to 5: 5 = a clear, realistic, complete {name} "
    "with a plausible shape, materials and lighting; 3 = a recognisable {name} with visible flaws; 1 = no recognisable "
    "{name}, or heavy artefacts.\n" + ANSWER_FORMAT.format(what="the image")
)
GROUP_PROMPT = (
    "These {n} images, tiled in a grid (left to right, top to bottom), should be views of one and the same {name} "
    "({definition}) from different viewpoints. Rate the set from 1 to 5: 5 = every view shows the same realistic, complete "
    "{name}, consistent in shape, colour and materials across the views; 3 = recognisable but with flaws or inconsistencies "
    "between views; 1 = no recognisable {name}, or views of different objects.\n" + ANSWER_FORMAT.format(what="the object")
)
DEFAULT_MAX_NEW_TOKENS = 160

_LABEL = re.compile(r"^[\s>#*_\-\d.)]*(rating|score|reason|caption)\b\s*[*_]*\s*[:=\-–—]\s*(.*)$", re.IGNORECASE)
_RATING = re.compile(r"^[*_\s\[(]*(\d+(?:\.\d+)?)\s*(?:(?:/|out of)\s*(\d+))?[*_\s\])]*(?:[.,;:]|\s|$)", re.IGNORECASE)


@dataclass
class Answer:
    rating: int | None
    reason: str | None
    caption: str | None
    raw: str


def _clean(text: str) -> str | None:
    text = re.sub(r"[*_]{2,}", "", " ".join(text.split())).strip().strip('"“”').strip()
    return text or None


def parse_rating(text: str) -> int | None:
    """``4``, ``4/5``, ``4 out of 5``, ``**4**``, ``4.0`` -> 4; ``0``, ``6``, ``4.5``, ``8/10``, words -> None."""
    match = _RATING.match(text)
    if not match:
        return None
    value, scale = float(match.group(1)), match.group(2)
    if scale is not None and int(scale) != 5:
        return None
    if value != int(value) or not 1 <= value <= 5:
        return None
    return int(value)


def parse_answer(raw: str) -> Answer:
    """The first Rating/Reason/Caption of an answer (labels case-insensitive, markdown allowed;
    a section runs to the next label); missing parts are None."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in (raw or "").splitlines():
        match = _LABEL.match(line)
        if match:
            key = {"score": "rating"}.get(match.group(1).lower(), match.group(1).lower())
            current = key if key not in sections else None
            if current:
                sections[current] = [match.group(2)]
        elif current:
            sections[current].append(line)
    text = {k: _clean(" ".join(v)) for k, v in sections.items()}
    rating = parse_rating(text["rating"]) if text.get("rating") else None
    return Answer(rating, text.get("reason"), text.get("caption"), raw or "")


def tile_views(images: list[np.ndarray]) -> np.ndarray:
    """The views in one canvas, in view order, laid out as multi-view generation tiles them
    (:func:`dst3d.appearance.tiling.grid_for`: 4 -> 2x2, 6 -> 3 rows x 2 columns); a view of
    another size is resized to the first's; unused tiles are black."""
    if not images:
        raise ValueError("no views to tile")
    import cv2

    from ..appearance.tiling import grid_for, tile

    h, w = images[0].shape[:2]
    views = [np.ascontiguousarray(i[..., :3]) if i.shape[:2] == (h, w) else cv2.resize(i[..., :3], (w, h), interpolation=cv2.INTER_AREA) for i in images]
    return tile([v.astype(np.uint8) for v in views], *grid_for(len(views)))


def prompt_for(name: str, definition: str, views: int) -> str:
    definition = definition or "an everyday object"
    if views > 1:
        return GROUP_PROMPT.format(n=views, name=name, definition=definition)
    return IMAGE_PROMPT.format(name=name, definition=definition)


@dataclass
class VlmScorer:
    """An image-text-to-text model and its processor (``from_pretrained``: Hub id or local folder)."""

    model_id: str
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 4
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    source: object = field(init=False, default=None)

    def __post_init__(self) -> None:
        from .models import load_pretrained

        self.source, self.processor, self.model = load_pretrained(self.model_id, self.revision, "VLM", "--vlm", "AutoModelForImageTextToText",
                                                                  self.dtype, self.device)
        if not getattr(self.processor, "chat_template", None):
            raise UserError(f"VLM '{self.model_id}' has no chat template; use an instruction-tuned image-text-to-text model (e.g. a *-Instruct model)")
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # batched generation continues every row at its end
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
        self.device = str(next(self.model.parameters()).device)

    def chat_text(self, prompt: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def generate(self, images: list[np.ndarray], prompts: list[str]) -> list[str]:
        """The model's answers (new tokens only, special tokens removed), greedy."""
        import torch
        from PIL import Image

        texts = [self.chat_text(p) for p in prompts]
        # one list of images per prompt: processors that batch several images per sample (Idefics3,
        # SmolVLM) read a flat list as ONE sample; the others flatten the nested form
        inputs = self.processor(text=texts, images=[[Image.fromarray(i)] for i in images], return_tensors="pt", padding=True)
        dtype = next(self.model.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype) if torch.is_floating_point(v) else v.to(self.device)) for k, v in inputs.items()}
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
