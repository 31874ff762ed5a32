"""LLM prompts: the cleaner on realistic chat outputs, the token limit, batching, the cache key.

The generation path runs a tiny random GPT-2 (byte-level tokenizer, chat template set in
tiny_models): it writes junk, which exercises loading, the chat template, batched
generation, cleaning, the template fallback and the cache file; prompt quality is not
tested. The cleaner is tested on hand-written outputs in the shapes chat models produce.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from dst3d.errors import UserError
from dst3d.prompts import PromptConfig, build_prompt
from dst3d.prompts.llm import (
    CACHE_VERSION, INSTRUCTION, LLMSettings, cache_key, cache_matches, clean_outputs, load_cache, token_fitter, write_cache,
)

CAR = ["car", "station wagon"]


def test_clean_outputs():
    raw = "\n".join([
        "1. A photo of a red car parked on a city street, golden hour light",
        '- "A vintage car in a barn, dusty, soft window light."',
        "A photo of a red car parked on a city street, golden hour light",  # duplicate
        "A side view of a blue car on a highway at noon",  # pose words
        "A photo of a bicycle leaning on a wall in the rain",  # class missing
        "car car",  # too short
        "Prompt 3: A rusty old car with chrome trim on a farm road, overcast",
        "\x07\x08 car junk bytes here \x1b",  # unprintable
    ])
    cleaned = clean_outputs([raw], CAR, limit=2)
    assert cleaned.kept == ["A photo of a red car parked on a city street, golden hour light", "A vintage car in a barn, dusty, soft window light"]
    assert cleaned.rejected == {"duplicate": 1, "pose words": 1, "class missing": 1, "not a prompt": 1, "surplus": 1, "unprintable": 1}


CHAT_OUTPUT = """Here are 20 prompts for photos of a car:

1. **Urban dusk:** A glossy red car parked on a wet city street at dusk, neon reflections, cinematic photo
2. A vintage car in a dusty barn, soft window light, film grain
3. A glossy red car parked on a wet city street at dusk, neon reflections, cinematic photograph
- *A white car on a snowy mountain road, overcast winter light, sharp DSLR photo*
### Countryside
4) A rusty old car with chrome trim on a farm road, overcast sky, documentary style
* __A sleek black car__ in a modern glass showroom, bright studio lighting, commercial photo

I hope these prompts help! Let me know if you want more.
5. A green car beside a lake at sunrise, mist over the wat"""


def test_cleaner_on_a_realistic_chat_output():
    """Issue 11 item 8: preamble, markdown, near-duplicate, sign-off and a cut-off last line."""
    cleaned = clean_outputs([CHAT_OUTPUT], CAR, limit=20, truncated=[True])
    assert cleaned.kept == [
        "A glossy red car parked on a wet city street at dusk, neon reflections, cinematic photo",
        "A vintage car in a dusty barn, soft window light, film grain",
        "A white car on a snowy mountain road, overcast winter light, sharp DSLR photo",
        "A rusty old car with chrome trim on a farm road, overcast sky, documentary style",
        "A sleek black car in a modern glass showroom, bright studio lighting, commercial photo",
    ]
    assert cleaned.rejected == {"chat text": 2, "near duplicate": 1, "not a prompt": 1, "truncated": 1}
    # Not cut off (the model stopped by itself): the last line is a prompt.
    assert clean_outputs([CHAT_OUTPUT], CAR, limit=20, truncated=[False]).kept[-1] == "A green car beside a lake at sunrise, mist over the wat"
    # More chat shapes: "Sure! ...:", a closing note, numbered "(3)" and "#4".
    other = "Sure! Here you go:\n(3) A blue car in a desert at noon, heat haze, travel photography\n#4 A yellow car on a rainy street at night, umbrellas, street photo\nNote: all prompts avoid camera angles."
    assert clean_outputs([other], CAR, limit=5).kept == ["A blue car in a desert at noon, heat haze, travel photography",
                                                        "A yellow car on a rainy street at night, umbrellas, street photo"]


@pytest.fixture(scope="module")
def sd15_tokenizer(tmp_path_factory):
    """The tiny base pipeline's CLIP tokenizer (byte level: one token per character, limit 77)."""
    pytest.importorskip("transformers")
    from dst3d.tiny_models import save_clip_tokenizer

    from dst3d.prompts.llm import load_prompt_tokenizer

    root = tmp_path_factory.mktemp("base")
    save_clip_tokenizer(root / "sd15" / "tokenizer")
    (root / "sd15" / "model_index.json").write_text("{}")
    return root / "sd15"


def test_prompts_fit_the_pipeline_tokenizer(sd15_tokenizer):
    from dst3d.prompts.llm import load_prompt_tokenizer

    tokenizer, source = load_prompt_tokenizer(str(sd15_tokenizer))
    assert tokenizer.model_max_length == 77 and source.resolved.startswith("local:")
    fit = token_fitter(tokenizer)
    long = "A red car parked on a wet street, neon signs glowing, light rain, reflections in puddles, cinematic night photo"
    assert len(tokenizer(long)["input_ids"]) > 77
    short = fit(long)
    assert short == "A red car parked on a wet street, neon signs glowing, light rain, reflections in puddles"  # cut at a clause boundary
    assert len(tokenizer(short)["input_ids"]) <= 77 < len(tokenizer(short + ", cinematic night photo")["input_ids"]) and fit(short) == short
    cleaned = clean_outputs([long, "A car on a road at dusk, orange sky"], CAR, limit=5, fit=fit)
    assert cleaned.kept == [short, "A car on a road at dusk, orange sky"] and cleaned.cut == 1
    # Words only when a clause would not fit.
    assert len(tokenizer(fit("A car " + "very " * 30 + "red"))["input_ids"]) <= 77


def test_cache_key_decides_reuse():
    base = LLMSettings(model="org/llm")
    key = cache_key(base, "abc123", 77, "sd15")
    record = {"version": CACHE_VERSION, "key": key, "requested": 20, "prompts": ["a car in the rain, night, photo"]}
    assert cache_matches(record, key, 20) and cache_matches(record, key, 10)
    assert not cache_matches(record, key, 30), "asked for more prompts than the cache was built for"
    for other in (cache_key(LLMSettings(model="org/other"), "abc123", 77, "sd15"), cache_key(base, "def456", 77, "sd15"),
                  cache_key(LLMSettings(model="org/llm", temperature=0.5), "abc123", 77, "sd15"),
                  cache_key(LLMSettings(model="org/llm", seed=1), "abc123", 77, "sd15"), cache_key(base, "abc123", None, None)):
        assert not cache_matches(record, other, 20)
    assert key["instruction"] == INSTRUCTION and not cache_matches({**record, "key": {**key, "instruction": "old"}}, key, 20)
    assert not cache_matches({"prompts": ["x"], "model": "org/llm"}, key, 1)  # a cache from before keys


def _cache_record(prompts, model="some/llm"):
    return {"version": 1, "synset": "n02814533", "model": model, "revision": "abc", "instruction": "...", "created": "now", "prompts": prompts}


def test_generation_uses_the_llm_cache_when_present(tmp_path):
    cached = [f"a photo of a car number {i} in the rain" for i in range(7)]
    write_cache(tmp_path, "n02814533", _cache_record(cached))
    auto = PromptConfig(llm_cache=str(tmp_path))
    picks = [build_prompt(auto, "n02814533", "beach wagon", 1, i)[0] for i in range(40)]
    assert set(picks) <= set(cached) and len(set(picks)) >= 5
    assert picks == [build_prompt(auto, "n02814533", "beach wagon", 1, i)[0] for i in range(40)]
    # Classes without a cache, the templates source, or another model's cache: templates.
    assert build_prompt(auto, "n02690373", "airliner", 1, 0)[0] not in cached
    assert build_prompt(PromptConfig(llm_cache=str(tmp_path), source="templates"), "n02814533", "beach wagon", 1, 0)[0] not in cached
    assert build_prompt(PromptConfig(llm_cache=str(tmp_path), llm_model="other/llm"), "n02814533", "beach wagon", 1, 0)[0] not in cached
    with pytest.raises(UserError, match="dst3d prompts build"):
        build_prompt(PromptConfig(llm_cache=str(tmp_path), source="llm"), "n02690373", "airliner", 1, 0)
    # An empty cache (the LLM wrote junk) means templates too.
    write_cache(tmp_path, "n02814533", _cache_record([]))
    assert build_prompt(auto, "n02814533", "beach wagon", 1, 0)[0] not in cached


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from dst3d.tiny_models import save_tiny_gpt2

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and robust on a busy machine
    yield save_tiny_gpt2(tmp_path_factory.mktemp("gpt2") / "gpt2")
    torch.set_num_threads(before)


def test_batched_generation_many_sequences_and_classes(tiny_gpt2, sd15_tokenizer):
    """Issue 11 item 8: many sequences per generate call, several classes per call."""
    from dst3d.prompts.llm import LLMWriter

    writer = LLMWriter(LLMSettings(model=str(tiny_gpt2), max_new_tokens=16, rounds=2, sequences=3, batch_size=6, tokenizer=str(sd15_tokenizer)))
    calls = []
    real = writer.model.generate

    def generate(**kwargs):
        out = real(**kwargs)
        calls.append((kwargs["input_ids"].shape[0], kwargs["num_return_sequences"], out.shape[0]))
        return out

    writer.model.generate = generate
    targets = [("n02814533", "beach wagon"), ("n01443537", "goldfish"), ("n02690373", "airliner")]
    records = writer.write_many(targets, n=50)
    # 3 classes x 3 sequences, 2 classes per call (6 sequences): 2 calls per round, 2 rounds.
    assert calls == [(2, 3, 6), (1, 3, 3)] * 2 and writer.calls == 4
    for synset, _ in targets:
        r = records[synset]
        assert r["generation"]["sequences_sampled"] == 6 and r["generation"]["rounds"] == 2
        assert r["generation_config"]["eos_token_id"] == 256 and r["generation"]["dtype"] == "float32"
        assert r["tokenizer"]["max_tokens"] == 77 and r["key"] == writer.key and r["key"]["revision"] == f"local:{tiny_gpt2.resolve()}"
        assert r["kept"] == len(r["prompts"]) and (r["fallback"] == "templates") == (r["kept"] == 0)
    # The same settings and seed: the same outputs (batched sampling is seeded per call).
    again = LLMWriter(writer.settings).write_many(targets, n=50)
    assert [again[s]["raw_lines"] for s, _ in targets] == [records[s]["raw_lines"] for s, _ in targets]


def test_prompts_build_with_a_tiny_llm(tiny_gpt2, sd15_tokenizer, tmp_path):
    from dst3d.cli import app

    runner = CliRunner()
    args = ["prompts", "build", "--classes", "car,goldfish", "--llm", str(tiny_gpt2), "--n", "3", "--out", str(tmp_path / "llm"),
            "--max-new-tokens", "24", "--rounds", "1", "--no-progress", "--tokenizer", str(sd15_tokenizer)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for synset in ("n02814533", "n01443537"):
        record = load_cache(tmp_path / "llm", synset)
        assert record["model"] == str(tiny_gpt2) and record["revision"] == f"local:{tiny_gpt2.resolve()}"
        assert "pose" in record["instruction"] and record["created"] and record["requested"] == 3
        assert record["kept"] == len(record["prompts"]) <= 3 and record["generation"]["rounds"] == 1
        assert (record["fallback"] == "templates") == (record["kept"] == 0)
        assert record["messages"][0]["role"] == "system" and record["prompt_name"] in record["messages"][1]["content"]
        assert record["key"]["sampling"]["max_new_tokens"] == 24 and record["tokenizer"]["id"] == str(sd15_tokenizer)
    # `prompts show` reports where each class's prompts come from.
    result = runner.invoke(app, ["prompts", "show", "--classes", "goldfish", "--n", "2"])
    assert result.exit_code == 0 and "goldfish (n01443537)" in result.output and "negative:" in result.output

    # --no-overwrite keeps only caches built with the same settings: another model's cache
    # (with prompts) is rebuilt; a cache with the same key is kept.
    write_cache(tmp_path / "llm", "n02814533", {**_cache_record(["a red car in the rain at night, street photo"]), "requested": 3})
    same = load_cache(tmp_path / "llm", "n01443537")
    same = {**same, "prompts": ["a goldfish in a glass bowl, soft window light"], "kept": 1, "fallback": None}
    write_cache(tmp_path / "llm", "n01443537", same)
    result = runner.invoke(app, [*args, "--no-overwrite"])
    assert result.exit_code == 0, result.output
    assert load_cache(tmp_path / "llm", "n02814533")["model"] == str(tiny_gpt2)  # rebuilt
    assert load_cache(tmp_path / "llm", "n01443537")["prompts"] == same["prompts"]  # kept
    result = runner.invoke(app, [*args, "--no-overwrite", "--temperature", "0.5"])
    assert load_cache(tmp_path / "llm", "n01443537")["key"]["sampling"]["temperature"] == 0.5  # other sampling: rebuilt

    # A model without a chat template is refused with a clear message.
    plain = tmp_path / "plain"
    shutil.copytree(tiny_gpt2, plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["prompts", "build", "--classes", "car", "--llm", str(plain), "--out", str(tmp_path / "x"), "--no-progress", "--tokenizer", "none"])
    assert isinstance(result.exception, UserError) and "chat template" in str(result.exception)


def test_prompts_build_offline_missing_model_fails_fast(cli, tmp_path):
    result = cli("prompts", "build", "--classes", "car", "--llm", "someone/missing-llm", "--out", str(tmp_path / "llm"), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "someone/missing-llm" in result.stderr and "local folder" in result.stderr
    assert not (tmp_path / "llm").exists()
    # The default prompt tokenizer (SD1.5's) is not cached here either: one line naming --tokenizer.
    from dst3d.prompts.llm import load_prompt_tokenizer

    with pytest.raises(UserError, match="--tokenizer"):
        load_prompt_tokenizer("stable-diffusion-v1-5/stable-diffusion-v1-5")
