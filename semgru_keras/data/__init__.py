"""Data sets for music emotion recognition: built-in synthetic sets, Emotify, 4-quadrant folders.

One entry point, :func:`load_dataset`, returns a :class:`Dataset` (song ids, audio, the
annotation matrix, targets, groups for grouped cross-validation) for

* ``"synthetic-gems"`` — seeded synthetic clips with Emotify-like GEMS annotations
  (9 fractions), the default everywhere (no download);
* ``"synthetic-quadrants"`` — seeded synthetic clips in the four valence–arousal quadrants;
* ``"emotify"`` — the real Emotify set in its published layout (``root=`` or
  ``$SEMGRU_EMOTIFY_ROOT``);
* ``"4q"`` — the 4Q set of Panda et al. as distributed (``Q1/ … Q4/`` + metadata CSV);
* ``"quadrants"`` — your own quadrant-labelled audio: class folders or a ``path,label`` CSV;
* or a path, whose layout is detected.

Features go through an on-disk cache (:mod:`semgru_keras.data.cache`):
``ds.sequences()`` computes the paper's input sequences once, in parallel, and reads them
afterwards; ``ds.map_audio(func, key)`` does the same for any per-song computation.
``python -m semgru_keras.data info|extract NAME`` is the command-line front.

Example
-------
>>> from semgru_keras.data import load_dataset
>>> ds = load_dataset("synthetic-quadrants", n_songs=8, seed=0)
>>> ds.task, ds.classes
('classification', ['happy', 'angry', 'sad', 'relaxed'])
"""

from .cache import CachedResults, UnreadableAudioWarning, clear_cache, default_cache_dir
from .dataset import DATASETS, Dataset, load_dataset
from .emotify import EMOTIFY_EMOTIONS, EMOTIFY_MEANS
from .synthetic import GEMS_EMOTIONS, GEMS_WEIGHTS, PARAMETERS

__all__ = [
    "DATASETS",
    "Dataset",
    "load_dataset",
    "CachedResults",
    "UnreadableAudioWarning",
    "clear_cache",
    "default_cache_dir",
    "EMOTIFY_EMOTIONS",
    "EMOTIFY_MEANS",
    "GEMS_EMOTIONS",
    "GEMS_WEIGHTS",
    "PARAMETERS",
]
