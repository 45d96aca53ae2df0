"""Getting the real data: the source records, ``check`` on fixture copies, ``download`` from a local server.

Fixture copies are small Emotify and 4Q look-alikes written here (synthetic MP3s, CSVs in the
real formats); their records are the real ones with their own digests and counts. The
download tests serve a fixture archive from an HTTP server on 127.0.0.1 that honours Range
requests (and can drop a connection, or ignore the range): nothing touches the internet.
The checks of the real records run only where the real data are present.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.data import download as download_module
from semgru_keras.data import sources
from semgru_keras.data.__main__ import main
from semgru_keras.data.check import check_copy, inspect_audio, sha256_file
from semgru_keras.data.download import DownloadError, unpack

needs_mp3 = pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile cannot write MP3 here")
pytestmark = needs_mp3

SR = 22050
SECONDS = 6.0
EMOTIFY_HEADER = ("track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power, "
                  "joyful_activation, tension, sadness, mood, liked, disliked, age, gender, mother tongue")
GENRES = ("classical", "rock", "electronic", "pop")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def _mp3_bytes(k: int) -> bytes:
    """A 6 s mono MP3 (encoded once per tone, then copied: encoding is the slow part)."""
    t = np.arange(int(SR * SECONDS)) / SR
    y = 0.3 * np.sin(2 * np.pi * (220 + 30 * k) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tone.mp3"
        sf.write(path, y.astype("float32"), SR, format="MP3")
        return path.read_bytes()


def _mp3(path: Path, k: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_mp3_bytes(k))


def _emotify_copy(root: Path, per_genre: int = 2) -> sources.DataSource:
    """An Emotify look-alike (``per_genre`` songs per genre) and its record."""
    rows = []
    for g, genre in enumerate(GENRES):
        for n in range(1, per_genre + 1):
            track = 100 * g + n
            rows.append(f"{track}, {genre}, 0, 1, 0, 0, 1, 0, 0, 0, 0, 3, 1, 0, 30, 1, English")
            _mp3(root / "emotifymusic" / genre / f"{n}.mp3", 4 * g + n)
    (root / "data.csv").write_text(EMOTIFY_HEADER + "\n" + "\n".join(rows) + "\n")
    return dataclasses.replace(
        sources.SOURCES["emotify"],
        annotation_sha256={"data.csv": _sha(root / "data.csv")},
        folders={f"emotifymusic/{g}": per_genre for g in GENRES},
        audio=sources.OriginalAudio("mono MP3 (fixture)", format="MP3", channels=1),
    )


FOURQ_SONGS = [("MT01", "Q1"), ("MT02", "Q2"), ("MT03", "Q3"), ("MT04", "Q4"), ("MT05", "Q1"), ("MT06", "Q3")]


def _fourq_copy(root: Path) -> sources.DataSource:
    """A 4Q look-alike: six songs in Q1-Q4, both CSVs, and its record."""
    meta = '"Song","Artist","Title","Quadrant","PQuad"\n' + "".join(
        f'"{s}","Artist {i}","Title {i}","{q}",0.75\n' for i, (s, q) in enumerate(FOURQ_SONGS))
    root.mkdir(parents=True, exist_ok=True)
    (root / "panda_dataset_taffc_metadata.csv").write_text(meta)
    (root / "panda_dataset_taffc_annotations.csv").write_text(
        "Song,Quadrant\n" + "".join(f"{s},{q}\n" for s, q in FOURQ_SONGS))
    for i, (song, q) in enumerate(FOURQ_SONGS):
        _mp3(root / q / f"{song}.mp3", i)
    counts = {q: sum(1 for _, qq in FOURQ_SONGS if qq == q) for q in ("Q1", "Q2", "Q3", "Q4")}
    return dataclasses.replace(
        sources.SOURCES["4q"],
        annotation_sha256={name: _sha(root / name) for name in sources.SOURCES["4q"].annotation_sha256},
        folders=counts,
    )


def _problems(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("problem: ")]


def _check(monkeypatch, capsys, source, root, *extra) -> tuple[int, str]:
    monkeypatch.setitem(sources.SOURCES, source.name, source)
    code = main(["check", source.name, "--root", str(root), "--no-progress", *extra])
    return code, capsys.readouterr().out


# ------------------------------------------------------------------------------------------ records
def test_records_name_source_licence_citation_layout_and_digests(capsys):
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    for source in sources.SOURCES.values():
        assert source.page in out and source.doi in out and source.licence in out
        for digest in source.annotation_sha256.values():
            assert len(digest) == 64 and digest in out
        assert f"check {source.name} --root PATH" in out
        assert sum(source.folders.values()) == source.n_files
    assert sources.SOURCES["emotify"].n_files == 400 and sources.SOURCES["4q"].n_files == 900
    # the 4Q article: published in 2020 (vol. 11), online since 2018
    assert "11(4)" in sources.SOURCES["4q"].citation and "2020" in sources.SOURCES["4q"].citation


def test_readme_getting_the_data_agrees_with_the_records():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Getting the data", 1)[1].split("\n## ", 1)[0]
    for source in sources.SOURCES.values():
        assert source.page in section and source.doi in section
        assert f"check {source.name} --root" in section
        for rel, digest in source.annotation_sha256.items():
            assert f"`{digest[:12]}…`" in section, rel
    emotify, fourq = sources.SOURCES["emotify"], sources.SOURCES["4q"]
    assert "402,508 bytes" in emotify.downloads[0].size and "402,508 bytes" in section
    assert f"{emotify.n_files} one-minute excerpts" in section and f"{fourq.n_files} clips" in section
    assert f"n = 1–{emotify.folders['emotifymusic/rock']}" in section and f"{fourq.folders['Q1']} in each" in section
    # one year for the 4Q article wherever the README and the data package cite it
    assert "11(4), 2020 (published online 2018)" in section
    assert "Panda et al. 2018" not in readme and "Panda, Malheiro & Paiva 2018" not in readme
    package = Path(sources.__file__).parent
    for module in package.glob("*.py"):
        assert "Paiva 2018" not in module.read_text(encoding="utf-8"), module.name


def _real(name: str, env: str) -> Path | None:
    candidates = [Path(os.environ[env])] if os.environ.get(env) else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data" / name)
    return next((c for c in candidates if c.is_dir()), None)


@pytest.mark.parametrize("name,env", [("emotify", "SEMGRU_EMOTIFY_ROOT"), ("4q", "SEMGRU_4Q_ROOT")])
def test_recorded_digests_are_those_of_the_original_files(name, env):
    root = _real(name, env)
    if root is None:
        pytest.skip(f"the real {name} data are not present")
    for rel, digest in sources.SOURCES[name].annotation_sha256.items():
        assert sha256_file(root / rel) == digest, rel


def test_loader_errors_say_where_to_get_the_data(monkeypatch):
    from semgru_keras.data import load_dataset

    monkeypatch.delenv("SEMGRU_EMOTIFY_ROOT", raising=False)
    for name in ("emotify", "4q"):
        with pytest.raises(ValueError) as err:
            load_dataset(name)
        text = str(err.value)
        assert sources.SOURCES[name].page in text and f"data check {name} --root" in text


# ------------------------------------------------------------------------------------------ check
def test_complete_copy_passes(tmp_path, monkeypatch, capsys):
    source = _emotify_copy(tmp_path / "emotify")
    code, out = _check(monkeypatch, capsys, source, tmp_path / "emotify")
    assert code == 0, out
    assert _problems(out) == [] and "re-encoded" not in out
    assert "data.csv: SHA-256" in out and "matches the original" in out
    assert "emotifymusic/rock/: 2 audio files (expected 2)" in out
    assert "audio: 8 of 8 files decode to the end" in out
    assert f"{SR} Hz (8)" in out and out.rstrip().splitlines()[-1].startswith("complete:")


def test_damaged_copy_gets_one_named_line_per_problem(tmp_path, monkeypatch, capsys):
    root = tmp_path / "emotify"
    source = _emotify_copy(root)
    (root / "emotifymusic" / "rock" / "2.mp3").unlink()  # a missing file
    with open(root / "data.csv", "a") as f:  # an edited CSV
        f.write("1, classical, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 30, 1, English\n")
    cut = root / "emotifymusic" / "pop" / "1.mp3"  # a truncated mp3
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    code, out = _check(monkeypatch, capsys, source, root)
    assert code == 1
    problems = _problems(out)
    assert len(problems) == 3, out
    missing, edited, truncated = (
        next(p for p in problems if key in p) for key in ("rock/2.mp3", "data.csv", "pop/1.mp3"))
    assert "audio file missing" in missing and "Fix: unpack it again from emotifymusic.zip" in missing
    assert "differs from the original's" in edited and "Fix: download it again from" in edited
    assert "truncated" in truncated and "Fix: replace the file" in truncated
    assert "3 problem(s)" in out.splitlines()[-1]


def test_reencoded_copy_is_reported_not_an_error(tmp_path, monkeypatch, capsys):
    root = tmp_path / "emotify"
    source = dataclasses.replace(_emotify_copy(root), audio=sources.EMOTIFY.audio)  # originals: 128 kbps stereo
    code, out = _check(monkeypatch, capsys, source, root)
    assert code == 0, out
    note = next(line for line in out.splitlines() if line.startswith("note: re-encoded copy"))
    assert "all audio files differ from the authors' 128 kbps stereo MP3" in note and "8 mono MP3" in note


def test_fourq_copy_wrong_folder_extra_file_and_missing_clip(tmp_path, monkeypatch, capsys):
    root = tmp_path / "4q"
    source = _fourq_copy(root)
    code, out = _check(monkeypatch, capsys, source, root)
    assert code == 0 and "Q1/: 2 audio files (expected 2)" in out, out
    (root / "Q3" / "MT06.mp3").rename(root / "Q4" / "MT06.mp3")  # in another quadrant's folder
    (root / "Q2" / "MT02.mp3").unlink()
    code, out = _check(monkeypatch, capsys, source, root)
    problems = _problems(out)
    assert code == 1 and len(problems) == 3, out
    assert any("Q3/MT06.mp3: audio file missing" in p for p in problems)
    assert any("Q4/MT06.mp3: not part of the data set" in p and "Fix: remove it, or move it" in p for p in problems)
    assert any("Q2/MT02.mp3: audio file missing" in p for p in problems)


def test_missing_root_folder_and_annotation_file(tmp_path, monkeypatch, capsys):
    source = _fourq_copy(tmp_path / "4q")
    code, out = _check(monkeypatch, capsys, source, tmp_path / "nowhere")
    assert code == 1 and "nowhere: folder not found. Fix:" in out and "download 4q --to" in out
    code, out = _check(monkeypatch, capsys, source, tmp_path)  # one level too high
    assert code == 1 and len(_problems(out)) == 1 and f"Fix: pass --root {tmp_path / '4q'}" in out
    import shutil

    shutil.rmtree(tmp_path / "4q" / "Q4")
    (tmp_path / "4q" / "panda_dataset_taffc_annotations.csv").unlink()
    code, out = _check(monkeypatch, capsys, source, tmp_path / "4q", "--no-decode")
    problems = _problems(out)
    assert code == 1 and len(problems) == 2, out
    assert any("Q4: folder missing (1 audio files expected)" in p for p in problems)
    assert any("panda_dataset_taffc_annotations.csv: annotation file missing" in p for p in problems)


def test_undecodable_and_too_short_files_are_named(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 100)
    assert "cannot be decoded" in inspect_audio(junk).error
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(SR * 2, dtype="float32"), SR)
    root = tmp_path / "4q"
    source = _fourq_copy(root)
    sf.write(root / "Q1" / "MT01.wav", np.zeros(SR * 2, dtype="float32"), SR)  # replaces the mp3 by stem
    (root / "Q1" / "MT01.mp3").unlink()
    report = check_copy(source, root)
    assert len(report.problems) == 1 and "shorter than one training crop" in report.problems[0].what


# ------------------------------------------------------------------------------------------ download
class _Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with HTTP Range; can drop or ignore ranges."""

    def __init__(self, files: dict[str, bytes], drop_first_after: int | None = None, ignore_range: bool = False):
        self.files, self.drop, self.ignore_range = files, drop_first_after, ignore_range
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start, status = 0, 200
                rng = self.headers.get("Range")
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.end_headers()
                if server.drop is not None:  # send part of the body, then close the connection
                    n, server.drop = server.drop, None
                    self.wfile.write(body[start:start + n])
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _zip_of(folder: Path, zip_path: Path, prefix: str) -> bytes:
    with zipfile.ZipFile(zip_path, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{prefix}{p.relative_to(folder)}")
    return zip_path.read_bytes()


@pytest.fixture
def emotify_archive(tmp_path, monkeypatch):
    """The fixture copy's data.csv and audio zip (nested as emotifymusic/<genre>/…), and its record."""
    monkeypatch.setattr(download_module, "RETRY_WAIT", 0.0)
    original = tmp_path / "original"
    source = _emotify_copy(original)
    csv_bytes = (original / "data.csv").read_bytes()
    zip_bytes = _zip_of(original / "emotifymusic", tmp_path / "emotifymusic.zip", "emotifymusic/")
    files = {"/emotifydata/data.csv": csv_bytes, "/emotifydata/emotifymusic.zip": zip_bytes}
    source = dataclasses.replace(source, downloads=(
        dataclasses.replace(source.downloads[0], sha256=_sha(original / "data.csv")), source.downloads[1]))
    return source, files


def _download(monkeypatch, capsys, source, server, to: Path) -> tuple[int, str]:
    monkeypatch.setitem(sources.SOURCES, source.name, source)
    urls = [f"{server.url}/emotifydata/{d.filename}" for d in source.downloads]
    code = main(["download", source.name, "--to", str(to), "--no-progress", *sum((["--url", u] for u in urls), [])])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_download_unpacks_into_the_loader_layout_and_checks(emotify_archive, tmp_path, monkeypatch, capsys):
    source, files = emotify_archive
    with _Server(files) as server:
        code, out = _download(monkeypatch, capsys, source, server, tmp_path / "got")
    assert code == 0, out
    assert "data.csv: SHA-256 matches the original" in out
    assert "its SHA-256 is not published" in out and "verified instead" in out
    assert (tmp_path / "got" / "emotifymusic" / "pop" / "2.mp3").is_file()
    assert out.rstrip().splitlines()[-1].startswith("complete:")
    from semgru_keras.data import load_dataset

    assert len(load_dataset("emotify", root=tmp_path / "got")) == 8


def test_download_resumes_a_partial_file_with_a_range_request(emotify_archive, tmp_path, monkeypatch, capsys):
    source, files = emotify_archive
    zip_bytes = files["/emotifydata/emotifymusic.zip"]
    part = tmp_path / "got" / ".download" / "emotifymusic.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(zip_bytes[:1000])  # an earlier, interrupted run
    with _Server(files) as server:
        code, out = _download(monkeypatch, capsys, source, server, tmp_path / "got")
    assert code == 0, out
    assert ("/emotifydata/emotifymusic.zip", "bytes=1000-") in server.requests
    assert "resuming at byte 1,000" in out
    assert (tmp_path / "got" / ".download" / "emotifymusic.zip").read_bytes() == zip_bytes


def test_download_recovers_from_a_dropped_connection(emotify_archive, tmp_path, monkeypatch, capsys):
    source, files = emotify_archive
    with _Server(files, drop_first_after=100) as server:  # data.csv breaks off after 100 bytes
        code, out = _download(monkeypatch, capsys, source, server, tmp_path / "got")
    assert code == 0, out
    assert server.requests[:2] == [("/emotifydata/data.csv", None), ("/emotifydata/data.csv", "bytes=100-")]
    assert (tmp_path / "got" / "data.csv").read_bytes() == files["/emotifydata/data.csv"]


def test_server_ignoring_the_range_restarts_cleanly(emotify_archive, tmp_path, monkeypatch, capsys):
    source, files = emotify_archive
    part = tmp_path / "got" / ".download" / "emotifymusic.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 500)  # would corrupt the file if appended to
    with _Server(files, ignore_range=True) as server:
        code, out = _download(monkeypatch, capsys, source, server, tmp_path / "got")
    assert code == 0, out
    assert (tmp_path / "got" / ".download" / "emotifymusic.zip").read_bytes() == files["/emotifydata/emotifymusic.zip"]


def test_download_with_a_wrong_digest_fails_and_keeps_nothing(emotify_archive, tmp_path, monkeypatch, capsys):
    source, files = emotify_archive
    files["/emotifydata/data.csv"] = files["/emotifydata/data.csv"].replace(b"English", b"Englisch")
    with _Server(files) as server:
        code, out = _download(monkeypatch, capsys, source, server, tmp_path / "got")
    assert code == 1
    assert "data.csv: SHA-256" in out and "differs from the original's" in out
    assert not (tmp_path / "got" / "data.csv").exists() and not (tmp_path / "got" / "data.csv.part").exists()


def test_unpack_finds_nested_content_and_refuses_escaping_members(tmp_path):
    copy = tmp_path / "copy"
    _fourq_copy(copy)
    archive = tmp_path / "MER_audio_taffc_dataset.zip"
    _zip_of(copy, archive, "MER_audio_taffc_dataset/")
    item = sources.SOURCES["4q"].downloads[0]
    unpack(archive, item, tmp_path / "root")
    assert (tmp_path / "root" / "Q3" / "MT06.mp3").is_file()
    assert (tmp_path / "root" / "panda_dataset_taffc_metadata.csv").is_file()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(DownloadError, match="outside"):
        unpack(evil, item, tmp_path / "root2")
    assert not (tmp_path / "outside.txt").exists()
