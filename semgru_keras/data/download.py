"""Fetch a real data set from its authors' addresses: resumable, verified, unpacked into the loader's layout.

``python -m semgru_keras.data download NAME --to PATH`` runs :func:`download`, then checks the
result (:func:`~semgru_keras.data.check.check_copy`). Each file of the distribution
(:attr:`DataSource.downloads <semgru_keras.data.sources.DataSource>`) is fetched into
``PATH/.download/``:

* **Resume.** Bytes go to ``<file>.part``; a later run (or a retry after a dropped
  connection) asks for the rest with an HTTP ``Range`` request and appends it. A server that
  ignores the range (status 200) is read again from the start.
* **Verification.** A file whose SHA-256 is recorded (Emotify's ``data.csv``) must match it.
  The audio archives' digests are not published and not recorded (never invented), so they
  are verified after unpacking: the annotation files' SHA-256 and the file counts per folder
  (the ``check`` that follows the download).
* **Unpacking.** A zip archive is unpacked (no member may leave the target folder) and its
  content moved into the loader's layout, however deep the archive nests it.

Only the Python standard library is used (:mod:`urllib.request`, :mod:`zipfile`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from .check import sha256_file
from .sources import DataSource, Download

__all__ = ["DownloadError", "fetch", "unpack", "download"]

_CHUNK = 1 << 16

#: Seconds to wait before retry n (times n, at most 10 s); tests set it to 0.
RETRY_WAIT = 2.0


class DownloadError(RuntimeError):
    """A file could not be fetched, verified or unpacked (the message names it and the fix)."""


def _content_range_start(value: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header (None if absent or unparsable)."""
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def fetch(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` where an earlier attempt stopped.

    Parameters
    ----------
    url : str
        The file's address (http, https or file).
    dest : path
        Final name; bytes go to ``<dest>.part`` until the file is complete and verified.
    sha256 : str, optional
        Expected digest: a mismatch removes the file and raises :class:`DownloadError`.
    retries : int
        Further attempts after a dropped connection, each resuming where the last stopped.
    timeout : float
        Seconds without an answer before an attempt fails.

    Returns
    -------
    Path
        ``dest``, complete.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and (sha256 is None or sha256_file(dest) == sha256):
        print(f"{dest.name}: already here", flush=True)
        return dest
    last_error = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(RETRY_WAIT * attempt, 10.0))
        try:
            _fetch_once(url, part, timeout, progress)
            break
        except (URLError, OSError, _Incomplete) as exc:  # HTTPError is a URLError
            if isinstance(exc, HTTPError) and exc.code not in (408, 429, 500, 502, 503, 504):
                raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}; check the address "
                                    f"(or pass a mirror with --url)") from exc
            last_error = exc
            print(f"{dest.name}: attempt {attempt + 1} stopped ({exc}); resuming", file=sys.stderr, flush=True)
    else:
        have = part.stat().st_size if part.exists() else 0
        raise DownloadError(f"{url}: incomplete after {retries + 1} attempts ({last_error}); {have:,} bytes kept "
                            f"in {part}: run the same command again to resume")
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256:
            part.unlink()
            raise DownloadError(f"{url}: SHA-256 {actual} differs from the original's {sha256}; the download was "
                                "removed: run the command again, or fetch it from the authors' page by hand")
        print(f"{dest.name}: SHA-256 matches the original", flush=True)
    part.replace(dest)
    return dest


class _Incomplete(Exception):
    """The connection closed before the announced length arrived."""


def _fetch_once(url: str, part: Path, timeout: float, progress: bool) -> None:
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "semgru-keras data download", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and start:  # nothing left past what we have: the part is complete
            return
        raise
    with response:
        status = getattr(response, "status", None) or 200
        if start and status == 206:
            if _content_range_start(response.headers.get("Content-Range")) != start:
                part.unlink()
                raise _Incomplete(f"the server answered another range than bytes={start}-; starting again")
            mode = "ab"
            print(f"{part.name[:-5]}: resuming at byte {start:,}", flush=True)
        else:  # a fresh download, or a server that ignored the range (status 200): from the start
            start, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=part.name[:-5])
        received = start
        try:
            with open(part, mode) as out:
                while True:
                    block = response.read(_CHUNK)
                    if not block:
                        break
                    out.write(block)
                    received += len(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
    if total is not None and received < total:
        raise _Incomplete(f"{received:,} of {total:,} bytes")


def _safe_extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            base = into.resolve()
            for member in z.infolist():
                target = (into / member.filename).resolve()
                if target != base and base not in target.parents:
                    raise DownloadError(f"{archive}: member {member.filename!r} would unpack outside {into}")
            z.extractall(into)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive}: not a readable zip archive ({exc}); delete it and download again") from exc


def _find_anchor(tree: Path, anchor: Sequence[str]) -> Path | None:
    """The shallowest folder under ``tree`` that holds every name of ``anchor``."""
    level = [tree]
    while level:
        for folder in level:
            if all((folder / name).exists() for name in anchor):
                return folder
        level = [c for f in level for c in sorted(f.iterdir()) if c.is_dir() and c.name != "__MACOSX"]
    return None


def unpack(archive: str | os.PathLike, item: Download, root: str | os.PathLike) -> Path:
    """Unpack ``archive`` and move its content into ``root/item.unpack_into``; return that folder.

    The content is the archive's shallowest folder holding every name of ``item.anchor``
    (so ``emotifymusic.zip`` fits whether it holds ``classical/ …`` or
    ``emotifymusic/classical/ …``). Existing files of the same names are replaced.
    """
    archive, root = Path(archive), Path(root)
    staging = root / ".download" / f"{archive.stem}.unpacked"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        _safe_extract(archive, staging)
        found = _find_anchor(staging, item.anchor)
        if found is None:
            raise DownloadError(f"{archive}: no folder in the archive holds {', '.join(item.anchor)}; "
                                "is it the right file? Delete it and download again")
        target = root / item.unpack_into
        target.mkdir(parents=True, exist_ok=True)
        for child in sorted(found.iterdir()):
            if child.name == "__MACOSX":
                continue
            dest = target / child.name
            if dest.is_dir():
                shutil.rmtree(dest)
            elif dest.exists():
                dest.unlink()
            shutil.move(str(child), str(dest))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def download(
    source: DataSource,
    to: str | os.PathLike,
    urls: Sequence[str] | None = None,
    keep_archives: bool = True,
    progress: bool = True,
) -> Path:
    """Fetch every file of ``source`` into ``to`` and unpack the archives into the loader's layout.

    Parameters
    ----------
    source : DataSource
        :data:`~semgru_keras.data.sources.SOURCES` ``[name]``.
    to : path
        The data root to fill (created). Downloads are kept in ``to/.download/`` (delete
        it once :func:`~semgru_keras.data.check.check_copy` is satisfied).
    urls : sequence of str, optional
        Other addresses (mirrors), one per file of ``source.downloads``, in order.
    keep_archives : bool
        Keep the downloaded archives in ``to/.download/`` (default), so that a re-run does
        not fetch them again.

    Returns
    -------
    Path
        ``to``. Check it afterwards: the archives' own digests are unknown.
    """
    root = Path(to).expanduser()
    items = source.downloads
    if urls and len(urls) != len(items):
        raise DownloadError(f"{source.name}: {len(items)} file(s) to fetch ({', '.join(d.filename for d in items)}) "
                            f"but {len(urls)} --url given")
    root.mkdir(parents=True, exist_ok=True)
    store = root / ".download"
    print(f"{source.name}: {source.page}\nlicence: {source.licence}\ncite: {source.citation}", flush=True)
    for i, item in enumerate(items):
        url = urls[i] if urls else item.url
        print(f"{item.filename}: {url} ({item.size})", flush=True)
        if item.unpack_into is None:
            fetch(url, root / item.filename, sha256=item.sha256, progress=progress)
            continue
        archive = fetch(url, store / item.filename, sha256=item.sha256, progress=progress)
        if item.sha256 is None:
            print(f"{item.filename}: its SHA-256 is not published and not recorded here; the unpacked copy is "
                  "verified instead (annotation files' SHA-256, file counts)", flush=True)
        where = unpack(archive, item, root)
        print(f"{item.filename}: unpacked into {where}", flush=True)
        if not keep_archives:
            archive.unlink()
    return root
