"""`dst3d prompts build` (LLM prompt caches) and `dst3d prompts show` (preview prompts)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .llm import DEFAULT_TOKENIZER

prompts_app = typer.Typer(help="Text prompts: the template grammar and LLM-written prompt caches.", no_args_is_help=True)


def _split(classes: str) -> list[str]:
    return [c.strip() for c in classes.split(",") if c.strip()]


@prompts_app.command("build")
def build(
    classes: str = typer.Option(..., help="comma-separated synsets or class names; 'cad' = the CAD library's classes, 'all' = ImageNet-1k"),
    llm: str = typer.Option(..., help="chat model: a Hugging Face Hub id or a local folder (transformers layout with a chat template)"),
    n: int = typer.Option(20, min=1, max=500, help="prompts to keep per class"),
    out: Optional[Path] = typer.Option(None, help="cache folder (default: $DST3D_PROMPT_CACHE or prompts/llm)"),
    revision: Optional[str] = typer.Option(None, help="model revision (branch, tag or commit)"),
    tokenizer: str = typer.Option(DEFAULT_TOKENIZER, help="the generation pipeline's base model (Hub id or folder) or tokenizer folder: prompts are cut to its token limit; 'none': no token limit"),
    temperature: float = typer.Option(0.9, min=0.0, help="sampling temperature"),
    top_p: float = typer.Option(0.95, min=0.0, max=1.0, help="nucleus sampling"),
    max_new_tokens: int = typer.Option(768, min=1, help="new tokens per sequence"),
    per_sequence: int = typer.Option(10, min=1, help="prompts asked for in each sequence (about 50 tokens each: keep it below max_new_tokens / 50)"),
    sequences: Optional[int] = typer.Option(None, min=1, help="sequences sampled per class per round (default: enough for N prompts in one round)"),
    batch_size: int = typer.Option(16, min=1, help="sequences per generate call; classes are batched together"),
    rounds: int = typer.Option(4, min=1, help="generation rounds per class at most (until N prompts are kept)"),
    seed: int = typer.Option(0, help="sampling seed"),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option("auto", help="auto, fp32, fp16 or bf16"),
    overwrite: bool = typer.Option(True, help="replace existing caches (--no-overwrite keeps a class's cache only if it was built with these same settings: model, revision, instruction, sampling, token limit)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Have a chat LLM write N prompts per class and cache them for `dst3d generate`."""
    from rich.console import Console
    from rich.table import Table

    from ..errors import UserError
    from ..progress import Progress
    from .llm import LLMSettings, LLMWriter, cache_matches, default_cache_dir, load_cache, needed_sequences, write_cache

    if dtype not in {"auto", "fp32", "fp16", "bf16"}:
        raise UserError(f"--dtype must be auto, fp32, fp16 or bf16, got {dtype}")
    targets = _resolve(classes)
    folder = out or default_cache_dir()
    console = Console(stderr=True)
    settings = LLMSettings(model=llm, revision=revision, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, rounds=rounds,
                           seed=seed, device=device, dtype=dtype, per_sequence=per_sequence,
                           sequences=sequences or min(batch_size, needed_sequences(n, min(n, per_sequence))), batch_size=batch_size,
                           tokenizer=None if tokenizer.lower() == "none" else tokenizer)
    writer = LLMWriter(settings)
    if not overwrite:
        kept = [(s, name) for s, name in targets if cache_matches(load_cache(folder, s), writer.key, n)]
        if kept:
            console.print(f"keeping {len(kept)} cache(s) built with the same settings: {', '.join(name for _, name in kept)}")
        targets = [t for t in targets if t not in kept]
    if not targets:
        console.print("every class already has a cache built with these settings; nothing to do (use --overwrite to rebuild)")
        return
    table = Table(title=f"LLM prompts by {llm} in {folder}")
    for column in ("class", "synset", "kept", "rejected", "file"):
        table.add_column(column)
    total_kept = 0
    names = dict(targets)
    with Progress(progress) as bars:
        advance = bars.task("prompts", len(targets), unit="class")

        def on_class(synset: str, record: dict) -> None:
            nonlocal total_kept
            path = write_cache(folder, synset, record)
            total_kept += record["kept"]
            rejected = ", ".join(f"{k} {v}" for k, v in sorted(record["rejected"].items())) or "-"
            kept = f"{record['kept']}/{n}" + (" (templates used)" if record["fallback"] else "")
            table.add_row(names[synset], synset, kept, rejected, str(path))
            advance(1, names[synset])

        writer.write_many(targets, n, on_class=on_class)
    Console().print(table)
    if total_kept == 0:
        console.print("[yellow]warning:[/] the model wrote no usable prompt; generation falls back to the templates for these classes")


@prompts_app.command("show")
def show(
    classes: str = typer.Option("car", help="comma-separated synsets or class names"),
    n: int = typer.Option(5, min=1, help="prompts per class"),
    seed: int = typer.Option(0, help="job seed"),
    config: Optional[Path] = typer.Option(None, help="job YAML/JSON whose prompts settings to use"),
) -> None:
    """Print N prompts per class as `dst3d generate` draws them (sample indices 0..N-1)."""
    from ..pipeline.job import load_job
    from .build import PromptConfig, build_prompt, cached_prompts

    prompt_config = load_job(config, {"classes": ["_"]}).prompts if config else PromptConfig()
    for synset, name in _resolve(classes):
        source = "LLM cache" if cached_prompts(prompt_config, synset) else "templates"
        typer.echo(f"{name} ({synset}), from {source}:")
        for index in range(n):
            prompt, _ = build_prompt(prompt_config, synset, name, seed, index)
            typer.echo(f"  {index}: {prompt}")
    typer.echo(f"negative: {prompt_config.negative}")


def _resolve(classes: str) -> list[tuple[str, str]]:
    """Any ImageNet class or WordNet id (prompts need no CAD model); CAD names too."""
    from ..cad.library import CadLibrary, resolve_classes
    from ..errors import UserError

    try:
        library = CadLibrary()
    except UserError:
        library = None
    return resolve_classes(_split(classes), library, need_model=False)


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")
