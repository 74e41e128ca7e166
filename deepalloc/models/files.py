"""Model files: a trained network with what is needed to use it again, in a safe format.

``save(network, path, ...)`` writes one file holding the network's class and
constructor arguments (JSON), its weights, the inputs it expects (lookback, channel
names, asset names, returns kind), a fitted scaler if any, the deepalloc version and
your own metadata. The file is a ``torch.save`` of tensors and plain values, written
atomically, and ``load(path)`` reads it with ``torch.load(..., weights_only=True)``:
loading never unpickles code, and rebuilds the network by calling a class deepalloc
knows (:mod:`deepalloc.models.encoding`); a file holding anything else is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from deepalloc._files import atomic_writer, load_weights_only
from deepalloc._recording import is_recorded, qualified_name
from deepalloc._typing import ReturnsKind
from deepalloc._version import __version__
from deepalloc.data import Windows
from deepalloc.models.encoding import ModelFileError, decode, encode

FORMAT = "deepalloc-model"
VERSION = 1


@dataclass
class SavedModel:
    """A network read back from a model file, with the inputs it expects.

    Attributes
    ----------
    network
        The rebuilt network (in eval mode), weights loaded.
    lookback
        Dates in each input window.
    assets
        The assets it was trained on, in the order of its inputs.
    channels
        Names of the input channels (``("features",)`` for a single frame of returns).
    returns_kind
        Whether its returns are ``"simple"`` or ``"log"``.
    scaler
        A fitted :class:`~deepalloc.data.StandardScaler` / ``RobustScaler`` to apply to
        the windows before the network, or ``None``.
    metadata
        What was passed to :func:`save` (JSON values).
    version
        The deepalloc version that wrote the file.
    """

    network: nn.Module
    lookback: int
    assets: list[str]
    channels: tuple[str, ...] = ("features",)
    returns_kind: ReturnsKind = "simple"
    scaler: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str = __version__


def _scaler_state(scaler: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if scaler is None:
        return None
    if not is_recorded(scaler) or getattr(scaler, "center_", None) is None:
        raise ModelFileError("scaler: expected a fitted deepalloc scaler, got " + repr(scaler))
    tensors["scaler:center"] = scaler.center_.detach().cpu().clone()
    tensors["scaler:scale"] = scaler.scale_.detach().cpu().clone()
    return encode(scaler, tensors, "scaler")


def save(
    network: nn.Module,
    path: str | Path,
    *,
    windows: Windows | None = None,
    lookback: int | None = None,
    assets: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    returns_kind: ReturnsKind | None = None,
    scaler: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``network`` and what it needs to a model file.

    Parameters
    ----------
    network
        A deepalloc network or allocator (any class deriving from one), trained or not.
    path
        The file to write (its folder must exist); written atomically.
    windows
        The windows it was trained on: the lookback, assets, channels and returns kind
        are taken from them (explicit arguments override them).
    lookback, assets, channels, returns_kind
        The inputs the network expects, when no windows are given.
    scaler
        A fitted scaler applied to the inputs before the network.
    metadata
        Anything JSON can hold, kept with the model (e.g. the training period).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if not is_recorded(network):
        raise ModelFileError(
            f"network: expected a deepalloc network or allocator (a class that records its "
            f"constructor arguments), got {qualified_name(type(network))}"
        )
    if windows is not None:
        lookback = windows.lookback if lookback is None else lookback
        assets = list(map(str, windows.assets)) if assets is None else assets
        channels = windows.channels if channels is None else channels
        returns_kind = windows.returns_kind if returns_kind is None else returns_kind
    if lookback is None or assets is None:
        raise ValueError("lookback, assets: expected both (or windows to take them from), got None")
    tensors: dict[str, torch.Tensor] = {}
    header = {
        "network": encode(network, tensors, "network"),
        "lookback": int(lookback),
        "assets": [str(a) for a in assets],
        "channels": list(channels or ("features",)),
        "returns_kind": returns_kind or "simple",
        "scaler": _scaler_state(scaler, tensors),
        "metadata": encode(dict(metadata or {}), tensors, "metadata"),
        "deepalloc_version": __version__,
    }
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    content = {
        "format": FORMAT,
        "version": VERSION,
        "header": json.dumps(header),
        "state": state,
        "tensors": tensors,
    }
    with atomic_writer(path) as file:
        torch.save(content, file)
    return Path(path)


def _read(path: str | Path) -> dict[str, Any]:
    content = load_weights_only(path, ModelFileError, "model file")
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelFileError(f"model file {path}: expected a {FORMAT} file, got another kind")
    if not isinstance(content.get("version"), int) or content["version"] > VERSION:
        raise ModelFileError(
            f"model file {path}: expected format version {VERSION} or older, got "
            f"{content.get('version')!r} (written by a newer deepalloc: upgrade to read it)"
        )
    return content


def load(path: str | Path) -> SavedModel:
    """Read a model file written by :func:`save`, safely.

    Raises
    ------
    ModelFileError
        If the file holds anything but tensors and plain values, is not a deepalloc
        model file, comes from a newer format version, or names a class deepalloc does
        not know.
    """
    content = _read(path)
    header = json.loads(content["header"])
    tensors = content["tensors"]
    network = decode(header["network"], tensors)
    network.load_state_dict(content["state"])
    network.eval()
    scaler = None
    if header["scaler"] is not None:
        scaler = decode(header["scaler"], tensors)
        scaler.center_, scaler.scale_ = tensors["scaler:center"], tensors["scaler:scale"]
    return SavedModel(
        network=network,
        lookback=int(header["lookback"]),
        assets=list(header["assets"]),
        channels=tuple(header["channels"]),
        returns_kind=header["returns_kind"],
        scaler=scaler,
        metadata=decode(header["metadata"], tensors),
        version=str(header["deepalloc_version"]),
    )


def inputs_frame(model: SavedModel, frame: pd.DataFrame, name: str = "returns") -> pd.DataFrame:
    """``frame``'s columns in the model's asset order; raises naming missing assets."""
    columns = [str(c) for c in frame.columns]
    missing = [a for a in model.assets if a not in columns]
    if missing:
        raise ValueError(
            f"{name}: expected the {len(model.assets)} assets the model was trained on, "
            f"got {len(columns)} without {missing}"
        )
    renamed = frame.set_axis(columns, axis=1)
    return renamed[model.assets]
