"""Prompts: the ImageNet class list and the template grammar.

The LLM path (generation, cleaning, caches) is tested in test_llm.py.
"""

from __future__ import annotations

import re

import pytest

from dst3d.errors import UserError
from dst3d.prompts import NEGATIVE, PromptConfig, build_prompt
from dst3d.cad.library import CadLibrary, resolve_classes as _resolve_classes
from dst3d.imagenet import imagenet_class, imagenet_classes


def resolve_classes(items):
    return _resolve_classes(items, CadLibrary(), need_model=False)
from dst3d.prompts.llm import POSE_WORDS
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


def test_every_library_class_has_its_own_descriptors(tmp_path):
    """Every class of the shipped CAD library has its own names, appearance, materials and settings,
    and its names are about that synset: one shares a word with the synset's ImageNet lemmas (the class
    list is the independent source), so an entry filed under the wrong id fails."""
    grammar, config = load_grammar(), PromptConfig(llm_cache=str(tmp_path))
    library = CadLibrary()
    assert len(library.manifest.classes) >= 40
    words = lambda text: set(re.findall(r"[a-z]+", text.lower())) - {"a", "of", "the"}
    for synset in library.manifest.classes:
        d = grammar.classes.get(synset)
        assert d is not None, f"{synset} ({library.manifest.classes[synset].name}) has no descriptors"
        assert d.names and len(d.appearance) >= 5 and len(d.material) >= 3, synset
        assert len(grammar.descriptor(synset, d.names[0]).settings) >= 4, synset  # own, or the group's (vehicles: roads, air, water)
        lemmas = set().union(*(words(n) for n in imagenet_class(synset).names))
        assert any(words(name) & lemmas for name in d.names), (synset, d.names, lemmas)
        texts = [build_prompt(config, synset, imagenet_class(synset).name, 1, i)[0] for i in range(12)]
        assert all(any(name in t for name in d.names) for t in texts), (synset, texts[:2])
        assert len(set(texts)) >= 10, synset
