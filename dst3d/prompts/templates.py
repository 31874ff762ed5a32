"""The template grammar: a varied, deterministic text prompt per sample.

A prompt is one of the grammar's templates with its slots filled: photographic style,
appearance, class name, material, setting (background), lighting, weather (outdoor
scenes only) and camera details. Each slot is drawn from the class's descriptors in
``prompts/descriptors.json`` when it has some, else from its group's (vehicle on roads,
furniture, animal, food, ... every ImageNet class has a group). Pose and viewpoint words
are kept out on purpose: the control image fixes the pose.

Every slot is drawn, in a fixed order, from the sample's prompt RNG whichever template is
chosen, so a prompt depends on (job seed, sample index) and the grammar file only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..imagenet import data_dir, imagenet_class

DESCRIPTORS_FILE = "descriptors.json"
SLOTS = {"style", "style_short", "a", "appearance", "name", "material", "setting", "lighting", "weather", "camera"}


@dataclass(frozen=True)
class Scene:
    lighting: tuple[str, ...]
    weather: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class Descriptor:
    names: tuple[str, ...] = ()
    appearance: tuple[str, ...] = ()
    material: tuple[str, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()  # (scene kind, phrase)


@dataclass(frozen=True)
class Grammar:
    templates: tuple[str, ...]
    styles: tuple[str, ...]
    styles_short: tuple[str, ...]
    cameras: tuple[str, ...]
    scenes: dict[str, Scene]
    groups: dict[str, Descriptor]
    classes: dict[str, Descriptor]
    aliases: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def descriptor(self, synset: str, class_name: str) -> Descriptor:
        """The class's own descriptors, each empty field filled from its group's."""
        known = imagenet_class(synset)
        group = self.groups.get(known.group if known else "object") or self.groups["object"]
        own = self.classes.get(synset, Descriptor())
        names = own.names or ((known.name,) if known else (class_name,))
        return Descriptor(
            names=names,
            appearance=own.appearance or group.appearance or ("",),
            material=own.material or group.material or ("",),
            settings=own.settings or group.settings,
        )


def _settings(data: dict, scenes: dict[str, Scene], where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for scene, phrases in (data or {}).items():
        if scene not in scenes:
            raise UserError(f"{where}: unknown scene kind '{scene}' (known: {', '.join(scenes)})")
        out.extend((scene, p) for p in phrases)
    return tuple(out)


def _descriptor(data: dict, scenes: dict[str, Scene], where: str) -> Descriptor:
    return Descriptor(
        names=tuple(data.get("names", ())),
        appearance=tuple(data.get("appearance", ())),
        material=tuple(data.get("material", ())),
        settings=_settings(data.get("settings", {}), scenes, where),
    )


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> Grammar:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"prompt descriptors {path} do not exist; fix prompts.descriptors in the job config") from None
    except ValueError as exc:
        raise UserError(f"prompt descriptors {path} are not valid JSON: {exc}") from None
    try:
        scenes = {k: Scene(tuple(v["lighting"]), tuple(v.get("weather", [""])) or ("",)) for k, v in data["scenes"].items()}
        groups = {k: _descriptor(v, scenes, f"{path} group {k}") for k, v in data["groups"].items()}
        classes = {k: _descriptor(v, scenes, f"{path} class {k}") for k, v in data.get("classes", {}).items()}
        grammar = Grammar(
            templates=tuple(data["templates"]), styles=tuple(data["styles"]), styles_short=tuple(data["styles_short"]),
            cameras=tuple(data.get("cameras", [""])), scenes=scenes, groups=groups, classes=classes,
            aliases={k.lower(): v for k, v in data.get("aliases", {}).items()}, source=path,
        )
    except KeyError as exc:
        raise UserError(f"prompt descriptors {path} lack the {exc} section") from None
    if "object" not in groups:
        raise UserError(f"prompt descriptors {path} need an 'object' group (the fallback for every class)")
    for template in grammar.templates:
        unknown = set(re.findall(r"{(\w+)}", template)) - SLOTS
        if unknown:
            raise UserError(f"prompt template '{template}' in {path} uses unknown slots {sorted(unknown)}; slots: {sorted(SLOTS)}")
    for name, d in [*groups.items(), *classes.items()]:
        if name in groups and not d.settings:
            raise UserError(f"prompt descriptors {path}: group '{name}' has no settings")
    return grammar


def load_grammar(path: str | Path | None = None) -> Grammar:
    p = Path(path) if path else data_dir() / DESCRIPTORS_FILE
    try:
        mtime = p.stat().st_mtime_ns
    except FileNotFoundError:
        mtime = 0
    return _load(str(p), mtime)


def _pick(rng: np.random.Generator, options) -> str:
    return options[int(rng.integers(len(options)))]


_VOWEL_SOUND = re.compile(r"^(?:[aeio]|u(?!ni|s[eu]|ti|r[aeiou])|hour|honest|heir)", re.IGNORECASE)


def article(word: str) -> str:
    return "an" if _VOWEL_SOUND.match(word) and not word.lower().startswith(("one", "eu")) else "a"


def template_prompt(grammar: Grammar, synset: str, class_name: str, rng: np.random.Generator) -> str:
    d = grammar.descriptor(synset, class_name)
    # A fixed draw order: the same number of draws whatever gets picked.
    template = _pick(rng, grammar.templates)
    name = _pick(rng, d.names)
    appearance = _pick(rng, d.appearance)
    material = _pick(rng, d.material)
    scene, setting = d.settings[int(rng.integers(len(d.settings)))]
    lighting = _pick(rng, grammar.scenes[scene].lighting)
    weather = _pick(rng, grammar.scenes[scene].weather)
    style = _pick(rng, grammar.styles)
    style_short = _pick(rng, grammar.styles_short)
    camera = _pick(rng, grammar.cameras)
    text = template.format(
        style=style, style_short=style_short, a="\x00", appearance=appearance, name=name, material=material,
        setting=setting, lighting=lighting, weather=weather, camera=camera,
    )
    return tidy(text)


def tidy(text: str) -> str:
    """Fix articles and the spaces/commas left by empty slots."""
    text = re.sub(r"\x00\s*(\S)", lambda m: f"\x00 {m.group(1)}", text)
    text = re.sub(r"\x00 (\S+)", lambda m: f"{article(m.group(1))} {m.group(1)}", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.])", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    return text.strip(" ,")
