"""Where suites and searches run: a local Ray instance, or an existing Ray cluster.

The same settings serve a laptop and a cluster: without an address a new local Ray
instance is started (``ray.init(address="local", num_cpus=...)``, never one that happens
to be running), and shut down when the work is done; with ``"auto"``, ``"host:port"`` or
``"ray://host:port"`` the work joins that existing cluster, which is left running. Ray
is imported only here, and only when a session starts.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

FoldBackend = Literal["local", "ray"]


def require(module: str, extra: str) -> Any:
    """Import ``module``, or raise ``ImportError`` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module}: expected it installed, got none; install the '{extra}' extra: "
            f"pip install 'deepalloc[{extra}]'"
        ) from err


@dataclass(frozen=True)
class Cluster:
    """Where the work runs.

    Attributes
    ----------
    backend
        How ``deepalloc run`` spreads folds: ``"local"`` (this machine, joblib) or
        ``"ray"`` (Ray tasks). Searches always run on Ray.
    address
        ``None`` for a new local Ray instance; ``"auto"`` (the cluster of ``RAY_ADDRESS``
        or the latest ``ray start`` on this machine), ``"host:port"`` or
        ``"ray://host:port"`` to join an existing cluster.
    num_cpus
        CPUs of a new local instance (default: all); not allowed with ``address``.
    temp_dir
        Ray's session folder for a new local instance (default Ray's ``/tmp/ray``);
        keep it short: Ray's socket paths must stay under about 100 characters.
    """

    backend: FoldBackend = "local"
    address: str | None = None
    num_cpus: int | None = None
    temp_dir: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("local", "ray"):
            raise ValueError(f"backend: expected 'local' or 'ray', got {self.backend!r}")
        if self.address is not None and (self.num_cpus is not None or self.temp_dir):
            raise ValueError(
                "num_cpus, temp_dir: expected none with an address (they set up a new local "
                f"instance; the cluster at {self.address!r} has its own), got "
                f"num_cpus={self.num_cpus!r}, temp_dir={self.temp_dir!r}"
            )
        if self.num_cpus is not None and (
            isinstance(self.num_cpus, bool) or not isinstance(self.num_cpus, int)
        ):
            raise TypeError(f"num_cpus: expected a positive integer, got {self.num_cpus!r}")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"num_cpus: expected a positive integer, got {self.num_cpus!r}")

    def describe(self) -> str:
        """One line: where the work runs."""
        if self.address is not None:
            return f"the Ray cluster at {self.address}"
        cpus = "all CPUs" if self.num_cpus is None else f"{self.num_cpus} CPU(s)"
        return f"a local Ray instance ({cpus})"


@contextlib.contextmanager
def ray_session(cluster: Cluster | None = None, *, extra: str = "ray") -> Iterator[Any]:
    """A Ray session for the duration of the block; yields the ``ray`` module.

    An already initialised session (``ray.init`` called by the user) is used as it is
    and left running. Otherwise a local instance is started, or the cluster at
    ``cluster.address`` joined; the session is shut down (the local instance stopped,
    the cluster left running) when the block ends.

    Raises
    ------
    ImportError
        Without Ray, naming the ``extra`` to install.
    """
    cluster = Cluster() if cluster is None else cluster
    ray = require("ray", extra)
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if cluster.address is None:
        options["address"] = "local"
        options["num_cpus"] = cluster.num_cpus
        if cluster.temp_dir:
            Path(cluster.temp_dir).mkdir(parents=True, exist_ok=True)
            options["_temp_dir"] = str(Path(cluster.temp_dir).resolve())
    elif cluster.address.startswith("ray://"):
        options = {"address": cluster.address}  # Ray Client takes few options
    else:
        options = {"address": cluster.address, "log_to_driver": False}
    log.info("starting a Ray session on %s", cluster.describe())
    ray.init(**options)
    try:
        yield ray
    finally:
        ray.shutdown()


def cluster_cpus(ray: Any) -> int:
    """CPUs of the connected Ray cluster."""
    return int(ray.cluster_resources().get("CPU", 0))


__all__ = ["Cluster", "FoldBackend", "cluster_cpus", "ray_session", "require"]
