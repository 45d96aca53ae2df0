"""Where the real data sets come from, and what a complete copy looks like.

One record per data set (:data:`SOURCES`): the official page and download URLs, the archive's
size, the licence and citation, the folder layout after unpacking, the number of audio files
per folder, and the SHA-256 of the annotation files. The digests were computed from copies of
the authors' files, unchanged: Emotify's ``data.csv`` and 4Q's two CSVs. The audio archives'
digests are **not** recorded: we have not downloaded them from the official pages, and the
authors publish none. A download is therefore verified after unpacking, by the annotation
files' digests and the file counts (:mod:`semgru_keras.data.check`).

``python -m semgru_keras.data sources [NAME]`` prints these records;
``check NAME --root PATH`` verifies a copy; ``download NAME --to PATH`` fetches one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .emotify import EMOTIFY_GENRES
from .fourq import FOURQ_FOLDERS, FOURQ_METADATA

__all__ = ["Download", "OriginalAudio", "DataSource", "SOURCES", "get_source", "how_to_get", "describe_source"]


@dataclass(frozen=True)
class Download:
    """One file of the official distribution.

    Attributes
    ----------
    url : str
        Where the authors serve it.
    filename : str
        Its name once downloaded.
    size : str
        Its size in words, with where the number comes from.
    sha256 : str or None
        Its digest where known (measured on the authors' file); ``None``: unknown, and the
        download is verified after unpacking instead.
    unpack_into : str or None
        An archive: the folder (relative to the data root, ``""`` for the root itself) that
        its contents become. ``None``: a plain file, saved as ``root/filename``.
    anchor : tuple of str
        Names that lie together in the archive's folder that maps to ``unpack_into`` (found
        however deep the archive nests it).
    """

    url: str
    filename: str
    size: str
    sha256: str | None = None
    unpack_into: str | None = None
    anchor: tuple[str, ...] = ()


@dataclass(frozen=True)
class OriginalAudio:
    """The audio as the authors distribute it, to tell an original from a re-encoded copy."""

    description: str  # e.g. "128 kbps stereo MP3, 44.1 kHz"
    format: str  # soundfile's major format name, e.g. "MP3"
    channels: int | None = None  # None: any
    min_kbps: float | None = None  # a copy below this bit rate is a re-encode


@dataclass(frozen=True)
class DataSource:
    """Everything needed to get a data set and to verify a copy of it."""

    name: str
    title: str
    page: str
    citation: str
    doi: str
    licence: str
    layout: str
    downloads: tuple[Download, ...]
    annotation_sha256: dict[str, str]  # path relative to the root -> SHA-256 of the original file
    folders: dict[str, int]  # audio folder relative to the root -> number of audio files
    audio: OriginalAudio
    notes: tuple[str, ...] = field(default=())

    @property
    def n_files(self) -> int:
        return sum(self.folders.values())


EMOTIFY = DataSource(
    name="emotify",
    title="Emotify: 400 one-minute excerpts with GEMS annotations from a crowdsourcing game",
    page="https://www2.projects.science.uu.nl/memotion/emotifydata/",
    citation=(
        "A. Aljanaki, F. Wiering & R. C. Veltkamp, \"Studying emotion induced by music through a "
        "crowdsourcing game\", Information Processing & Management 52(1), 115-128, 2016"
    ),
    doi="10.1016/j.ipm.2015.03.004",
    licence=(
        "annotations: no formal licence; the authors ask users to cite the paper. Audio: Magnatune "
        "recordings under Creative Commons BY-NC-SA licences (non-commercial, share alike): research and "
        "teaching, never redistribution in a repository"
    ),
    layout=(
        "root/data.csv                      one row per respondent per song (8,407 rows)\n"
        "root/emotifymusic/<genre>/<n>.mp3  genres classical, rock, electronic, pop; n = 1-100 in each"
    ),
    downloads=(
        Download(
            url="https://www2.projects.science.uu.nl/memotion/emotifydata/data.csv",
            filename="data.csv",
            size="402,508 bytes (measured on the original file)",
            sha256="32229d7329e1245af3f9bd2e7005f51e1c8582ae1e48b9afa5cacb8cdcb65d71",
        ),
        Download(
            url="https://www2.projects.science.uu.nl/memotion/emotifydata/emotifymusic.zip",
            filename="emotifymusic.zip",
            size="about 363 MB (a third-party listing of the authors' page; not downloaded here)",
            unpack_into="emotifymusic",
            anchor=EMOTIFY_GENRES,
        ),
    ),
    annotation_sha256={"data.csv": "32229d7329e1245af3f9bd2e7005f51e1c8582ae1e48b9afa5cacb8cdcb65d71"},
    folders={f"emotifymusic/{g}": 100 for g in EMOTIFY_GENRES},
    audio=OriginalAudio("128 kbps stereo MP3, 44.1 kHz", format="MP3", channels=2, min_kbps=112),
)

FOURQ = DataSource(
    name="4q",
    title="4Q audio emotion dataset: 900 clips of about 30 s, 225 per valence-arousal quadrant",
    page="https://mir.dei.uc.pt/downloads.html",
    citation=(
        "R. Panda, R. Malheiro & R. P. Paiva, \"Novel audio features for music emotion recognition\", "
        "IEEE Transactions on Affective Computing 11(4), 614-626, 2020 (published online 2018)"
    ),
    doi="10.1109/TAFFC.2018.2820691",
    licence=(
        "no licence stated; the authors distribute it for research and ask users to cite the article. The "
        "clips are 30-s previews of commercial recordings (AllMusic): research and teaching, never redistribution"
    ),
    layout=(
        f"root/{FOURQ_METADATA}      Song, Artist, Title, Quadrant, PQuad, moods, genres\n"
        "root/panda_dataset_taffc_annotations.csv   Song, Quadrant\n"
        "root/Q1/ ... root/Q4/<Song>.mp3            225 clips in each quadrant folder"
    ),
    downloads=(
        Download(
            url="https://mir.dei.uc.pt/resources/MER_audio_taffc_dataset.zip",
            filename="MER_audio_taffc_dataset.zip",
            size="not stated by the authors (not downloaded here)",
            unpack_into="",
            anchor=(*FOURQ_FOLDERS, FOURQ_METADATA),
        ),
    ),
    annotation_sha256={
        "panda_dataset_taffc_annotations.csv": "1125561fe4c042206c64a3b4e853ce648226f4735dd3bb27aad13d7f6f70619e",
        FOURQ_METADATA: "196bb3513504e4fd597b89d9d011a1586c3d498938e3f0023080ff00a2b1e690",
    },
    folders={q: 225 for q in FOURQ_FOLDERS},
    audio=OriginalAudio("MP3 at mixed sample rates (32, 22.05, 44.1 and 16 kHz)", format="MP3"),
    notes=("the authors converted the clips to 22.05 kHz mono WAV for their own experiments; the archive holds MP3",),
)

#: The data sets that can be downloaded and checked, by loader name.
SOURCES: dict[str, DataSource] = {s.name: s for s in (EMOTIFY, FOURQ)}


def get_source(name: str) -> DataSource:
    """The record of ``name`` (``"emotify"`` or ``"4q"``); ``KeyError`` naming the known ones."""
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"no download record for {name!r}: known are {', '.join(SOURCES)}") from None


def how_to_get(name: str) -> str:
    """One sentence for error messages: where the data come from, and the download and check commands."""
    s = get_source(name)
    return (
        f"get it from {s.page} (python -m semgru_keras.data download {s.name} --to PATH), verify a copy with "
        f"python -m semgru_keras.data check {s.name} --root PATH"
    )


def describe_source(source: DataSource) -> str:
    """The record as text: what ``python -m semgru_keras.data sources`` prints."""
    lines = [
        f"{source.name}: {source.title}",
        f"  page:      {source.page}",
    ]
    for d in source.downloads:
        digest = f"SHA-256 {d.sha256}" if d.sha256 else "SHA-256 not published (verified after unpacking)"
        lines.append(f"  file:      {d.url}  [{d.size}; {digest}]")
    lines += [
        f"  licence:   {source.licence}",
        f"  cite:      {source.citation}, doi:{source.doi}",
        f"  audio:     {source.n_files} files, {source.audio.description}",
        "  layout:",
        *(f"    {line}" for line in source.layout.splitlines()),
        "  annotation files (SHA-256 of the originals):",
        *(f"    {path}  {digest}" for path, digest in source.annotation_sha256.items()),
        *(f"  note:      {n}" for n in source.notes),
        f"  download:  python -m semgru_keras.data download {source.name} --to PATH",
        f"  check:     python -m semgru_keras.data check {source.name} --root PATH",
    ]
    return "\n".join(lines)
