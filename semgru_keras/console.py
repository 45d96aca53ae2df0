"""What the long-running commands print, also written to a log file (``--log FILE``).

A protocol run of an hour is best started in the background (``nohup … &``); ``--log FILE``
of ``python -m semgru_keras.run`` and of ``python -m experiments.*`` then keeps everything the
command prints — its own lines, the per-fold progress lines with elapsed time and estimate,
progress bars, warnings — in ``FILE`` (appended, each line as it comes), while the terminal
still shows it. Progress bars redraw with carriage returns; ``tr '\\r' '\\n' < FILE | tail``
shows their last state.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

__all__ = ["tee_output"]


class _Tee:
    """A text stream that writes to a terminal stream and to an open log file."""

    def __init__(self, stream, log):
        self._stream, self._log = stream, log

    def write(self, text: str) -> int:
        self._log.write(text)
        self._log.flush()
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, … of the terminal stream
        return getattr(self._stream, name)


@contextlib.contextmanager
def tee_output(path: str | os.PathLike | None, command: str | None = None):
    """Copy ``sys.stdout`` and ``sys.stderr`` to ``path`` (appended) inside the ``with`` block.

    ``path=None`` changes nothing. The log starts with a line naming the time and ``command``.
    """
    if path is None:
        yield None
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", buffering=1) as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {command or ' '.join(sys.argv)}\n")
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
        try:
            yield path
        finally:
            sys.stdout, sys.stderr = out, err
