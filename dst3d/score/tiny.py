"""Tiny random scoring models, saved in the layouts real ones have on the Hub (for tests).

:func:`save_tiny_clip`: a ``CLIPModel`` + ``CLIPProcessor`` folder (32 px images, byte-level
tokenizer). :func:`save_tiny_vlm`: a ``LlavaForConditionalGeneration`` + ``LlavaProcessor`` folder
(a tiny CLIP vision tower, a tiny Llama, a byte-level tokenizer with an ``<image>`` token and a
chat template). :func:`save_tiny_qwen2_vl`: a ``Qwen2VLForConditionalGeneration`` + ``Qwen2VLProcessor``
folder (dynamic resolution: the number of image tokens follows the image size). Both load through the same ``from_pretrained`` calls `dst3d score` makes for
real weights. Their outputs are noise: they test the mechanics, nothing about quality.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..tiny_models import CLIP_VOCAB, byte_level_tokenizer, save_clip_tokenizer

IMAGE = 32
PATCH = 8
VLM_CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}"
    "{% endif %}{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _vision(hidden: int = 32) -> dict:
    return dict(hidden_size=hidden, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=IMAGE, patch_size=PATCH)


def _image_processor():
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A random 2-layer CLIP (text and vision width 32, projection 16) with its processor."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = Path(folder)
    save_clip_tokenizer(folder)
    torch.manual_seed(seed)
    text = dict(vocab_size=CLIP_VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                max_position_embeddings=77, bos_token_id=CLIP_VOCAB - 2, eos_token_id=CLIP_VOCAB - 1, pad_token_id=CLIP_VOCAB - 1)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=_vision(), projection_dim=16))
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=_image_processor(), tokenizer=CLIPTokenizer.from_pretrained(folder)).save_pretrained(folder)
    return folder


def _byte_tokenizer(folder: Path, special: list[str]):
    tokenizer, vocab = byte_level_tokenizer(folder)
    tokenizer.add_special_tokens({"additional_special_tokens": special})
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, vocab["<|endoftext|>"]


def save_tiny_qwen2_vl(folder: Path, seed: int = 0) -> Path:
    """A random Qwen2-VL: 2-layer vision tower (patch 8, merge 2), 2-layer text model, byte-level tokenizer."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tokenizer, eos = _byte_tokenizer(folder, names)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in names}
    grid = dict(patch_size=PATCH, merge_size=2, temporal_patch_size=2)
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(min_pixels=16 * 16, max_pixels=64 * 64, **grid), tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor(**grid),
                                 chat_template=VLM_CHAT_TEMPLATE.replace("<image>", "<|vision_start|><|image_pad|><|vision_end|>"))
    torch.manual_seed(seed)
    config = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1]},
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos),
        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, num_heads=4, patch_size=PATCH, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    Qwen2VLForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_vlm(folder: Path, seed: int = 0) -> Path:
    """A random LLaVA: tiny CLIP vision tower (16 image tokens), 2-layer Llama, byte-level tokenizer."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, eos = _byte_tokenizer(folder, ["<image>"])
    processor = LlavaProcessor(image_processor=_image_processor(), tokenizer=tokenizer, patch_size=PATCH, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=VLM_CHAT_TEMPLATE)
    torch.manual_seed(seed)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**_vision()),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, max_position_embeddings=1024, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
