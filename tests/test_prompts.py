"""Prompts: the ImageNet class list, the template grammar, LLM caches and `dst3d prompts`.

The LLM path runs a tiny random GPT-2 (byte-level tokenizer, chat template set here): it
writes junk, which exercises loading, the chat template, generation, cleaning, the
template fallback and the cache file; the quality of prompts is not tested.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from dst3d.errors import UserError
from dst3d.prompts import NEGATIVE, PromptConfig, build_prompt
from dst3d.cad.library import CadLibrary, resolve_classes as _resolve_classes
from dst3d.imagenet import imagenet_class, imagenet_classes


def resolve_classes(items):
    return _resolve_classes(items, CadLibrary(), need_model=False)
from dst3d.prompts.llm import POSE_WORDS, clean_outputs, load_cache, write_cache
from dst3d.prompts.templates import SLOTS, article, load_grammar

# The CAD library's classes (dst3d/cad/parametric.py).
CAD_SYNSETS = {
    "n02690373": "airliner", "n03792782": "mountain bike", "n04273569": "speedboat", "n04557648": "water bottle",
    "n04146614": "school bus", "n02814533": "beach wagon", "n03376595": "folding chair", "n03201208": "dining table",
    "n03785016": "moped", "n04344873": "studio couch", "n03272562": "electric locomotive", "n03782006": "monitor",
}


def test_imagenet_classes_are_complete():
    classes = imagenet_classes()
    assert [c.index for c in classes] == list(range(1000))
    assert len({c.wnid for c in classes}) == 1000 and all(re.fullmatch(r"n\d{8}", c.wnid) for c in classes)
    assert all(c.names and c.names[0] for c in classes)
    assert (classes[0].wnid, classes[0].name) == ("n01440764", "tench") and classes[999].name == "toilet tissue"
    for synset, name in CAD_SYNSETS.items():
        assert imagenet_class(synset).name == name
    grammar = load_grammar()
    assert {c.group for c in classes} <= set(grammar.groups)


def test_grammar_covers_the_cad_classes_and_has_no_pose_words():
    grammar = load_grammar()
    for synset in CAD_SYNSETS:
        d = grammar.classes[synset]
        assert d.names and len(d.appearance) >= 5 and len(d.material) >= 3, synset
    assert set(grammar.classes) <= {c.wnid for c in imagenet_classes()}
    for template in grammar.templates:
        assert set(re.findall(r"{(\w+)}", template)) <= SLOTS and "{name}" in template
    phrases = [*grammar.templates, *grammar.styles, *grammar.styles_short, *grammar.cameras]
    for scene in grammar.scenes.values():
        phrases += [*scene.lighting, *scene.weather]
    for d in [*grammar.groups.values(), *grammar.classes.values()]:
        phrases += [*d.appearance, *d.material, *(p for _, p in d.settings)]
    assert not [p for p in phrases if POSE_WORDS.search(p)]
    assert (article("apple"), article("old car"), article("red car"), article("unicycle"), article("hour")) == ("an", "an", "a", "a", "an")


def test_template_prompts_are_deterministic_varied_and_name_the_class(tmp_path):
    config = PromptConfig(llm_cache=str(tmp_path))
    prompts = [build_prompt(config, "n02814533", "beach wagon", 5, i) for i in range(60)]
    assert prompts == [build_prompt(config, "n02814533", "beach wagon", 5, i) for i in range(60)]
    assert all(neg == NEGATIVE for _, neg in prompts)
    texts = [p for p, _ in prompts]
    assert len(set(texts)) >= 55
    assert all(re.search(r"\b(car|station wagon|estate car)\b", t) for t in texts)
    assert texts != [build_prompt(config, "n02814533", "beach wagon", 6, i)[0] for i in range(60)]
    assert not any("  " in t or " ," in t or ",," in t for t in texts)
    # Every ImageNet class gets a prompt that names it; a synset outside ImageNet uses its given name.
    for cls in imagenet_classes():
        text = build_prompt(config, cls.wnid, cls.name, 0, cls.index)[0]
        assert cls.name in text or cls.wnid in load_grammar().classes, (cls.wnid, text)
    assert "gizmo" in build_prompt(config, "n99999999", "gizmo", 0, 0)[0]


def test_resolve_classes():
    assert resolve_classes(["n02690373", "goldfish", "Granny Smith"]) == [("n02690373", "airliner"), ("n01443537", "goldfish"), ("n07742313", "Granny Smith")]
    assert resolve_classes(["car"])[0][0] == "n02814533"
    assert len(resolve_classes(["all"])) == 1000
    with pytest.raises(UserError, match="did you mean"):
        resolve_classes(["goldfishh"])


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
    cleaned = clean_outputs([raw], ["car", "station wagon"], limit=2)
    assert cleaned.kept == ["A photo of a red car parked on a city street, golden hour light", "A vintage car in a barn, dusty, soft window light"]
    assert cleaned.rejected == {"duplicate": 1, "pose words": 1, "class missing": 1, "not a prompt": 1, "surplus": 1, "unprintable": 1}


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
    from tiny_models import save_tiny_gpt2

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and robust on a busy machine
    yield save_tiny_gpt2(tmp_path_factory.mktemp("gpt2") / "gpt2")
    torch.set_num_threads(before)


def test_prompts_build_with_a_tiny_llm(tiny_gpt2, tmp_path):
    from dst3d.cli import app

    runner = CliRunner()
    args = ["prompts", "build", "--classes", "car,goldfish", "--llm", str(tiny_gpt2), "--n", "3", "--out", str(tmp_path / "llm"),
            "--max-new-tokens", "24", "--rounds", "1", "--no-progress"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for synset in ("n02814533", "n01443537"):
        record = load_cache(tmp_path / "llm", synset)
        assert record["model"] == str(tiny_gpt2) and record["revision"] == f"local:{tiny_gpt2.resolve()}"
        assert "pose" in record["instruction"] and record["created"] and record["requested"] == 3
        assert record["kept"] == len(record["prompts"]) <= 3 and record["generation"]["rounds"] == 1
        assert (record["fallback"] == "templates") == (record["kept"] == 0)
        assert record["messages"][0]["role"] == "system" and record["prompt_name"] in record["messages"][1]["content"]
    # `prompts show` reports where each class's prompts come from.
    result = runner.invoke(app, ["prompts", "show", "--classes", "goldfish", "--n", "2"])
    assert result.exit_code == 0 and "goldfish (n01443537)" in result.output and "negative:" in result.output

    # A model without a chat template is refused with a clear message.
    plain = tmp_path / "plain"
    shutil.copytree(tiny_gpt2, plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["prompts", "build", "--classes", "car", "--llm", str(plain), "--out", str(tmp_path / "x"), "--no-progress"])
    assert isinstance(result.exception, UserError) and "chat template" in str(result.exception)


def test_prompts_build_offline_missing_model_fails_fast(cli, tmp_path):
    result = cli("prompts", "build", "--classes", "car", "--llm", "someone/missing-llm", "--out", str(tmp_path / "llm"), env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "someone/missing-llm" in result.stderr and "local folder" in result.stderr
    assert not (tmp_path / "llm").exists()
