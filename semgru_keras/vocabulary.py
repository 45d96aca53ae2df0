"""The emotion vocabulary, in one place: GEMS emotions and the four valence–arousal quadrants.

Conventions used everywhere in the package (no Keras, no matplotlib here, so the data
layer can import it):

* **GEMS** (Emotify, Table I): nine emotions in the file's column order,
  :data:`GEMS_EMOTIONS`; annotations are the fraction of a song's listeners who tagged
  each emotion. :data:`EMOTIFY_MEANS` are their published per-emotion means over the 400
  songs (Aljanaki et al. 2016).
* **Quadrants** (the paper's Last.fm set, Table II; 4Q; EMOPIA): Russell's four
  valence–arousal quadrants in the order Q1–Q4, :data:`QUADRANT_CLASSES`, coded as the
  corners of the valence–arousal square (paper, Section V-A, Fig. 2),
  :data:`QUADRANT_CORNERS`. Class names are case-insensitive; :data:`CLASS_ALIASES` lists
  the accepted ones and :func:`canonical_class` maps them. What people read (tables of
  predictions, the model card) is :data:`QUADRANT_LABELS`, ``"Q1 happy"`` … ``"Q4 relaxed"``:
  the data sets' folder names and the paper's words together, accepted back as aliases.
"""

from __future__ import annotations

__all__ = [
    "GEMS_EMOTIONS",
    "EMOTIFY_MEANS",
    "QUADRANT_CLASSES",
    "QUADRANT_CORNERS",
    "QUADRANT_LABELS",
    "CLASS_ALIASES",
    "canonical_class",
    "quadrant_label",
]

#: The nine GEMS emotion columns of Emotify, in file order (the order of Table I).
GEMS_EMOTIONS: tuple[str, ...] = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)

#: Published per-emotion means of Emotify over its 400 songs (for checks and the synthetic set).
EMOTIFY_MEANS: dict[str, float] = dict(
    zip(GEMS_EMOTIONS, (0.134, 0.196, 0.177, 0.254, 0.299, 0.190, 0.262, 0.238, 0.185))
)

#: Canonical quadrant classes in the order Q1–Q4.
QUADRANT_CLASSES: tuple[str, ...] = ("happy", "angry", "sad", "relaxed")

#: The paper's valence–arousal coding of the four classes (Section V-A, Fig. 2).
QUADRANT_CORNERS: dict[str, tuple[float, float]] = {
    "happy": (1.0, 1.0),
    "angry": (-1.0, 1.0),
    "sad": (-1.0, -1.0),
    "relaxed": (1.0, -1.0),
}

#: How a quadrant is shown to people: its number (the data sets' Q1–Q4) and its name.
QUADRANT_LABELS: dict[str, str] = {c: f"Q{i} {c}" for i, c in enumerate(QUADRANT_CLASSES, start=1)}

#: Accepted class names (lower case) → canonical class: the names, Q1–Q4 and the labels ("q1 happy").
CLASS_ALIASES: dict[str, str] = {
    **{c: c for c in QUADRANT_CLASSES},
    **{f"q{i}": c for i, c in enumerate(QUADRANT_CLASSES, start=1)},
    **{label.lower(): c for c, label in QUADRANT_LABELS.items()},
}


def canonical_class(name: str, where: str = "") -> str:
    """Map a class name (any case) to happy/angry/sad/relaxed, or raise listing the known ones."""
    key = str(name).strip().lower()
    if key not in CLASS_ALIASES:
        known = ", ".join(f"{k} ({v})" if k != v else k for k, v in CLASS_ALIASES.items())
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown quadrant class {name!r}; known names (any case): {known}")
    return CLASS_ALIASES[key]


def quadrant_label(name: str) -> str:
    """``"Q1 happy"`` … ``"Q4 relaxed"`` for any accepted name of a quadrant; other class names unchanged."""
    key = CLASS_ALIASES.get(str(name).strip().lower())
    return QUADRANT_LABELS[key] if key is not None else str(name)
