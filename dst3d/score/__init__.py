"""`dst3d score`: model-based scores per sample, stored next to the dataset.

* :mod:`.clip`: a CLIP class-presence score, the image against "a photo of a {class}" for its
  own class and competing classes (the other ImageNet-1k classes by default);
* :mod:`.vlm`: an optional vision-language model that rates an image, or a multi-view group's
  views tiled into one image, 1-5 with a reason and writes a 30-50-word caption;
* :mod:`.store`: ``DATA/score/scores.parquet`` (one row per sample) and ``DATA/score/score.json``
  (provenance: models and revisions, prompts, class list, the dataset state scored), read by
  `dst3d filter` (``--min-clip-prob``, ``--min-vlm-rating``).

Models load through ``from_pretrained`` from a Hugging Face Hub id or a local folder
(:mod:`dst3d.hub_models` locates them first: offline, a missing model is one line).
:mod:`.tiny` saves tiny random models in the same layouts, for tests.
"""
