"""Atomic file writes: a file is either its old version or its complete new one.

Everything the library writes (checkpoints, cached suite folds, model files, reports)
goes through :func:`atomic_writer`: the content is written to a temporary file in the
same folder, flushed to disk, then moved into place with :func:`os.replace`, which is
atomic on POSIX and Windows. An interruption (a kill, a power cut, an exception) leaves
the previous file untouched and at most a stray ``.*.tmp`` file beside it
(:ref:`conventions-state`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; move it into place on success.

    Parameters
    ----------
    path
        Final path of the file; its folder must exist.
    mode
        ``"wb"`` (bytes) or ``"w"`` (text, UTF-8).

    Yields
    ------
    file object
        Write the content to it; on an exception the temporary file is removed and
        ``path`` is left as it was.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode: expected 'wb' or 'w', got {mode!r}")
    target = Path(path)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        encoding = None if mode == "wb" else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_writer(path, "w") as file:
        file.write(text)


def load_weights_only(path: str | Path, error: type[Exception], label: str) -> Any:
    """``torch.load(path, weights_only=True)`` onto the CPU, its failures as ``error``.

    A file holding anything but tensors and plain values (a pickle that could run code)
    and a truncated or corrupt file are reported as ``error`` with a message that
    starts with ``f"{label} {path}: "``. torch is imported here, not at module level:
    this module also serves the torch-free pandas layers.
    """
    import pickle

    import torch

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        raise error(
            f"{label} {path}: expected tensors and plain values only, got content that "
            f"weights-only loading refuses (it could run code), so it was not loaded: {err}"
        ) from err
    except (EOFError, RuntimeError) as err:
        raise error(f"{label} {path}: expected a complete file, got {err}") from err
