"""Device, dtype and the one loader both scorers use (a Hub id or a local folder)."""

from __future__ import annotations

DTYPES = ("auto", "fp32", "fp16", "bf16")


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def torch_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


def load_pretrained(model_id: str, revision: str | None, what: str, option: str, model_class: str, dtype: str, device: str):
    """(source, processor, model in eval mode on ``device``): located first (a missing model
    fails in one line before torch loads anything), then ``from_pretrained`` of both."""
    from ..hub_models import dtype_kwarg, hub_offline, load_or_explain, locate_model

    source = locate_model(model_id, revision=revision, probe_file="config.json", what=what, option=option, local_files_only=hub_offline())
    import transformers
    from transformers import AutoProcessor

    transformers.utils.logging.disable_progress_bar()
    device = pick_device(device)
    cls = getattr(transformers, model_class)
    kwargs = dict(revision=source.revision, local_files_only=source.local_files_only)
    processor = load_or_explain(lambda: AutoProcessor.from_pretrained(source.path, **kwargs), source, f"{what} processor", option)
    model = load_or_explain(lambda: cls.from_pretrained(source.path, **kwargs, **{dtype_kwarg("transformers"): torch_dtype(dtype, device)}),
                            source, what, option)
    return source, processor, model.to(device).eval()


def public_source(source) -> dict:
    """The model's id and revision as recorded in score.json, local paths replaced by a name and
    a hash of the folder listing (a published dataset does not carry the machine's layout)."""
    from ..store.shards import public_settings

    return public_settings({"model": source.id, "revision": source.resolved})
