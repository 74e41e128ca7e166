"""Which channel holds the returns: by index, by name, or found from the channel names.

Windows know the names of their channels (``Windows.channels`` for x,
``Windows.target_channels`` for y). Everything that reads returns out of x or y
(losses, baselines, covariance estimators) takes a ``returns_channel`` that is an
index, a name, or ``None``: the only channel, else the one named ``"returns"``. Names
and ``None`` are resolved against the windows' channel names when a training run,
a prediction or a suite starts (:meth:`ReadsReturns.bind_channels`); a call on a bare
tensor with several channels and nothing resolved is ambiguous and raises
(:ref:`conventions-returns`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ChannelSpec = int | str | None
"""An index, a channel name, or ``None`` (the only channel, else ``"returns"``)."""

RETURNS = "returns"


def resolve_channel(spec: ChannelSpec, names: Sequence[str], owner: str) -> int:
    """The index of the returns channel among ``names``; raises when it is ambiguous."""
    if isinstance(spec, bool):
        raise TypeError(f"{owner}.returns_channel: expected an int, a name or None, got {spec!r}")
    if isinstance(spec, int):
        if not -len(names) <= spec < len(names):
            raise ValueError(
                f"{owner}.returns_channel: expected an index into the {len(names)} channels "
                f"{list(names)}, got {spec}"
            )
        return spec % len(names)
    if isinstance(spec, str):
        if spec not in names:
            raise ValueError(
                f"{owner}.returns_channel: expected one of the channels {list(names)}, got {spec!r}"
            )
        return list(names).index(spec)
    if len(names) == 1:
        return 0
    if RETURNS in names:
        return list(names).index(RETURNS)
    raise ValueError(
        f"{owner}.returns_channel: expected a channel named {RETURNS!r} among {list(names)} "
        "or an explicit returns_channel (index or name), got None: which channel holds the "
        "returns is ambiguous"
    )


class ReadsReturns:
    """Mixin of objects that read a returns channel (``self.returns_channel``)."""

    returns_channel: ChannelSpec
    _bound_channel: int | None = None

    def bind_channels(self, names: Sequence[str]) -> None:
        """Resolve ``returns_channel`` against the channel names of the data to come."""
        self._bound_channel = resolve_channel(self.returns_channel, names, type(self).__name__)

    def channel_index(self, n_channels: int) -> int:
        """The returns channel's index in an input with ``n_channels`` channels."""
        if self._bound_channel is not None and self._bound_channel < n_channels:
            return self._bound_channel
        spec = self.returns_channel
        if isinstance(spec, str):
            raise ValueError(
                f"{type(self).__name__}.returns_channel: the name {spec!r} needs the channel "
                "names; train or predict through deepalloc (which binds them), or give an index"
            )
        return resolve_channel(spec, [str(i) for i in range(n_channels)], type(self).__name__)


def bind_channels(objects: Iterable[object], names: Sequence[str]) -> None:
    """Bind every :class:`ReadsReturns` among ``objects`` (for example ``module.modules()``
    or ``loss.leaves()``) to the channel ``names`` of the data they will read."""
    for obj in objects:
        if isinstance(obj, ReadsReturns):
            obj.bind_channels(names)
