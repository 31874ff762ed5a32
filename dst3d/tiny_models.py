"""Tiny random models saved in the same folder layout as the real ones on the Hub.

They exist to exercise the loading and generation *mechanics* offline and fast: the
ControlNet backend loads them through exactly the ``from_pretrained`` calls it uses for
real weights. Their images are noise; nothing here says anything about image quality.

- :func:`save_tiny_sd15` / :func:`save_tiny_sdxl`: a StableDiffusion(XL)ControlNet base
  pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/).
- :func:`save_tiny_controlnet`: a ControlNet folder matching either base.
- :func:`save_tiny_taesd`: a tiny ``AutoencoderTiny`` (the TAESD layout).
- :func:`save_tiny_gpt2`: a 2-layer GPT-2 with a byte-level tokenizer and a chat template.

The VAE has four blocks (latent/image ratio 8, like SD1.5), so a 64-128 px image runs in
tens of milliseconds on a CPU. The CLIP tokenizer is synthesized: a byte-level vocabulary
(256 byte characters, the same with ``</w>``, plus the start/end tokens) and no merges.
"""

from __future__ import annotations

import json
from pathlib import Path

CROSS_DIM_SD15 = 32
HIDDEN = 32


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values, in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def save_clip_tokenizer(folder: Path) -> None:
    """A CLIP tokenizer with no merges: every byte is a token (model_max_length 77)."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"), vocab=vocab, merges=[], model_max_length=77)
    tokenizer.save_pretrained(folder)


CLIP_VOCAB = 2 * 256 + 2


def _clip_config(projection_dim: int = HIDDEN):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=CLIP_VOCAB, hidden_size=HIDDEN, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, bos_token_id=CLIP_VOCAB - 2, eos_token_id=CLIP_VOCAB - 1, pad_token_id=CLIP_VOCAB - 1,
        projection_dim=projection_dim, hidden_act="gelu",
    )


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
    )


def _unet_kwargs(sdxl: bool) -> dict:
    common = dict(
        block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8, in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), attention_head_dim=(2, 4),
    )
    if sdxl:
        # Two text encoders: cross attention sees both hidden states (32 + 32); the added
        # time embedding sees the pooled projection (32) plus 6 size/crop numbers x 8.
        common.update(
            cross_attention_dim=2 * HIDDEN, use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=HIDDEN + 6 * 8,
        )
    else:
        common.update(cross_attention_dim=CROSS_DIM_SD15)
    return common


def _scheduler():
    from diffusers import PNDMScheduler

    return PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1)


def save_tiny_sd15(folder: Path, seed: int = 0, variant: str | None = None) -> Path:
    """A tiny SD1.5-shaped base pipeline (no ControlNet, no safety checker), as on the Hub;
    ``variant``: its weights saved under that variant name too (``*.fp16.safetensors``)."""
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    folder = Path(folder)
    unet = UNet2DConditionModel(sample_size=16, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **_unet_kwargs(False))
    save_clip_tokenizer(folder / "_tok")
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_clip_config()), tokenizer=CLIPTokenizer.from_pretrained(folder / "_tok"),
        unet=unet, scheduler=_scheduler(), safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    if variant:
        pipe.save_pretrained(folder, variant=variant)
    _rmtree(folder / "_tok")
    return folder


def save_tiny_sdxl(folder: Path, seed: int = 0) -> Path:
    """A tiny SDXL-shaped base pipeline (two text encoders, text_time conditioning)."""
    import torch
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(seed)
    folder = Path(folder)
    unet = UNet2DConditionModel(sample_size=16, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **_unet_kwargs(True))
    save_clip_tokenizer(folder / "_tok")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tok")
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_clip_config()), text_encoder_2=CLIPTextModelWithProjection(_clip_config()),
        tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=_scheduler(), force_zeros_for_empty_prompt=True,
        add_watermarker=False,
    )
    pipe.save_pretrained(folder)
    _rmtree(folder / "_tok")
    return folder


def save_tiny_controlnet(folder: Path, sdxl: bool = False, seed: int = 1, variant: str | None = None) -> Path:
    """A ControlNet for the tiny base: its conditioning embedding downsamples by 8.
    ``variant`` (e.g. ``fp16``): saved only as that weight variant, as some Hub repos ship."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    controlnet = ControlNetModel(conditioning_embedding_out_channels=(8, 8, 16, 16), **_unet_kwargs(sdxl))
    # Random ControlNets start from zero convolutions (no effect at all); perturb them so
    # a test can see the control image reach the output.
    with torch.no_grad():
        for module in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block, controlnet.controlnet_cond_embedding.conv_out]:
            for p in module.parameters():
                p.normal_(0.0, 0.5)
        embedding = controlnet.controlnet_cond_embedding
        for conv in [embedding.conv_in, *embedding.blocks]:  # He init: edges survive the downsampling
            fan_in = conv.weight[0].numel()
            conv.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
    if variant == "fp16":
        controlnet.to(torch.float16)
    controlnet.save_pretrained(folder, variant=variant)
    return Path(folder)


def save_tiny_taesd(folder: Path, seed: int = 2) -> Path:
    """A tiny AutoencoderTiny (TAESD layout, latent/image ratio 8) for the tiny bases."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    vae = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4,
    )
    vae.save_pretrained(folder)
    return Path(folder)


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def byte_level_tokenizer(folder: Path):
    """A GPT-2 tokenizer over the 256 byte symbols (no merges) whose files are written to
    ``folder``: any text round-trips, nothing is downloaded. Returns (tokenizer, vocab)."""
    from transformers import GPT2Tokenizer

    vocab = {c: i for i, c in enumerate(_byte_chars())}
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return GPT2Tokenizer(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"), vocab=vocab, merges=[]), vocab


def save_tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    """A 2-layer random GPT-2 with a byte-level BPE tokenizer (no merges) and a chat template."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, vocab = byte_level_tokenizer(folder)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=len(vocab), n_positions=1024, n_embd=32, n_layer=2, n_head=2, bos_token_id=len(vocab) - 1, eos_token_id=len(vocab) - 1)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
