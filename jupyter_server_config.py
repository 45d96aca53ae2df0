"""JupyterLab as `make lab` starts it (``--config=jupyter_server_config.py``): notebooks are saved without outputs.

The lessons are stored without outputs (tests/test_notebooks.py). Git's nbstripout filter (.gitattributes,
configured by `make install`) keeps outputs out of commits, but git still lists a notebook that JupyterLab
saved with outputs as modified: its size differs from the stored file's, and ``git status`` trusts a size
change without asking the filter. So this server saves the course's notebooks (``notebooks/`` and
``notebooks/solutions/``) as the filter would store them: outputs and execution counts dropped, widget
state, cell timings and the Python patch version removed (the Jupyter Server documentation's
``pre_save_hook`` recipe, with nbstripout doing the stripping). The outputs stay on screen while a notebook
is open, and autosave or Ctrl+S leave ``git status`` clean; reopened, a notebook shows no outputs until it
runs again. Executed copies with their outputs are what ``make demo`` writes to ``runs/``; a notebook saved
outside ``notebooks/`` keeps its outputs.
"""

from nbformat import from_dict
from nbstripout import strip_output

#: What nbstripout removes besides outputs and counts (its defaults) plus the Python patch version, which
#: differs between machines. The Makefile's git filter passes the same: ``--keep-id --extra-keys ...``.
EXTRA_KEYS = [
    "metadata.signature", "metadata.widgets", "cell.metadata.collapsed", "cell.metadata.ExecuteTime",
    "cell.metadata.execution", "cell.metadata.heading_collapsed", "cell.metadata.hidden", "cell.metadata.scrolled",
    "metadata.language_info.version",
]


def save_without_outputs(model, path, **kwargs):
    """``ContentsManager.pre_save_hook``: strip a notebook under ``notebooks/`` before it is written."""
    if model.get("type") != "notebook" or not str(path).lstrip("/").startswith("notebooks/"):
        return
    nb = from_dict(model["content"])
    if nb.get("nbformat") != 4:
        return
    model["content"] = strip_output(nb, keep_output=False, keep_count=False, keep_id=True, extra_keys=EXTRA_KEYS)


c = get_config()  # noqa: F821  (defined by Jupyter when it reads this file)
c.ContentsManager.pre_save_hook = save_without_outputs
