"""Generate the API reference pages from the package, at every build.

Every module of ``deepalloc`` gets a page under ``api/generated/``: its docstring, a
summary table of what it defines, and the full documentation of each public class,
function and documented constant **defined in it** (an object is documented once, in
the module that defines it; re-exports such as ``deepalloc.allocators.MarkowitzAllocator``
are listed in their package's table and resolved to that page by ``aliases.py``).

- Modules whose name has a private part are skipped, except the shared helpers of
  :data:`INTERNALS`, which the conventions page explains.
- Modules that only re-export another (``deepalloc.backtest`` for
  ``deepalloc.analysis.backtest``) are listed as import paths, not documented twice.
- Modules are grouped by the layer of their top-level subpackage (:data:`LAYERS`); a
  new subpackage appears under "More modules" until it is given a layer here.

A module that cannot be imported fails the build.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging

PACKAGE = "deepalloc"
OUTPUT = Path("api") / "generated"
INTERNALS = ("_channels", "_tail", "_files", "_typing", "_checks", "_recording")
SKIP = {"deepalloc.__main__", "deepalloc._version"}

# Top-level subpackage or module -> its layer (docs/design.rst's table, from the bottom up).
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("L0", "Shared helpers and errors", ("errors", *INTERNALS)),
    ("L1", "Data and pure functions", ("data", "datasets", "functional")),
    ("L2", "Network blocks and losses", ("layers", "losses")),
    ("L3", "Allocation layers", ("allocators",)),
    ("L4", "Networks and baselines", ("networks", "baselines")),
    ("L5", "Training, saving and analysis", ("training", "models", "saving", "analysis")),
    ("L6", "Evaluation and tuning", ("evaluation", "tune", "tuning")),
    ("L7", "Reports, configuration and the command", ("reporting", "config", "cli")),
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    """A public object defined in a module, and the directive that documents it."""

    name: str
    directive: str


def module_names() -> list[str]:
    """Every documented module of the package, sorted, the package itself first."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
        parts = info.name.split(".")[1:]
        private = any(p.startswith("_") for p in parts)
        internal = len(parts) == 1 and parts[0] in INTERNALS
        if info.name not in SKIP and (not private or internal):
            names.append(info.name)
    return sorted(names)


def _star_source(module: ModuleType) -> str | None:
    """The module that ``module`` re-exports with ``from X import *``, if that is all it does."""
    if hasattr(module, "__path__"):
        return None
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return None
    body = [
        n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
    ]
    if not body or not all(isinstance(n, ast.ImportFrom) for n in body):
        return None
    stars = [n.module for n in body if any(a.name == "*" for a in n.names)]  # type: ignore[union-attr]
    return stars[0] if len(stars) == 1 else None


def is_alias(module: ModuleType) -> bool:
    """A module that only re-exports another (``from X import *``)."""
    return _star_source(module) is not None


def alias_target(module: ModuleType) -> str:
    """The module an alias module re-exports."""
    return str(_star_source(module))


def _assigned_names(module: ModuleType) -> list[str]:
    """Top-level names assigned in the module's own source, in order."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return []
    names: list[str] = []
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target]
        names += [t.id for t in targets if t.id not in names]
    return names


def members(module: ModuleType) -> list[Member]:
    """Public classes, functions and documented constants defined in ``module``."""
    name = module.__name__
    exported = getattr(module, "__all__", None)
    attr_docs = ModuleAnalyzer.for_module(name).find_attr_docs()
    documented_data = {attr for (scope, attr) in attr_docs if scope == ""}
    out: list[Member] = []
    for attr, obj in vars(module).items():
        if attr.startswith("_") or (exported is not None and attr not in exported):
            continue
        if inspect.isclass(obj) and obj.__module__ == name:
            directive = "autoexception" if issubclass(obj, BaseException) else "autoclass"
            out.append(Member(attr, directive))
        elif inspect.isfunction(obj) and obj.__module__ == name:
            out.append(Member(attr, "autofunction"))
    for attr in _assigned_names(module):
        obj = vars(module).get(attr)
        if attr.startswith("_") or inspect.isclass(obj) or inspect.isfunction(obj):
            continue
        listed = exported is not None and attr in exported
        if attr in documented_data or listed or _reexported(module, attr):
            out.append(Member(attr, "autodata"))
    order = {attr: i for i, attr in enumerate(vars(module))}
    return sorted(out, key=lambda m: order.get(m.name, len(order)))


def _inherited_option(cls: type) -> list[str]:
    """Show the methods a class inherits from private deepalloc bases (``_Scaler``), which
    have no page of their own, and no others (public bases and ``nn.Module`` have)."""
    bases = cls.__mro__[1:]
    private = [b for b in bases if b.__name__.startswith("_") and b.__module__.startswith(PACKAGE)]
    if not private:
        return []
    others = sorted({b.__name__ for b in bases if b not in private})
    return [f"   :inherited-members: {', '.join(others)}"]


def _reexported(module: ModuleType, attr: str) -> bool:
    """Whether a package above ``module`` exports its ``attr`` (the same object)."""
    parts = module.__name__.split(".")
    for i in range(len(parts) - 1, 0, -1):
        package = importlib.import_module(".".join(parts[:i]))
        if attr in getattr(package, "__all__", ()) and getattr(package, attr) is vars(module)[attr]:
            return True
    return False


def _heading(text: str, char: str, over: bool = False) -> list[str]:
    line = char * len(text)
    return [line, text, line, ""] if over else [text, line, ""]


def _exports(module: ModuleType) -> list[str]:
    """Names a package re-exports from its submodules (its ``__all__`` minus its own)."""
    own = {m.name for m in members(module)}
    return [n for n in getattr(module, "__all__", []) if n not in own]


def module_page(name: str, submodules: list[str]) -> str:
    """The reStructuredText of one module's page."""
    module = importlib.import_module(name)
    lines = _heading(name, "=")
    lines += [f".. automodule:: {name}", "", f".. currentmodule:: {name}", ""]
    exports = _exports(module) if hasattr(module, "__path__") else []
    if exports:
        lines += [".. rubric:: Exports", "", "Import these from here; each is documented in"]
        lines += ["the module that defines it.", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {n}" for n in exports] + [""]
    own = members(module)
    if own:
        lines += [".. rubric:: Contents", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {m.name}" for m in own] + [""]
    if submodules:
        lines += [".. rubric:: Modules", "", ".. autosummary::", ""]
        lines += [f"   {s.rpartition('.')[2]}" for s in submodules] + [""]
        lines += [".. toctree::", "   :hidden:", ""] + [f"   {s}" for s in submodules] + [""]
    for member in own:
        lines += [f".. {member.directive}:: {member.name}"]
        if member.directive == "autoclass":
            lines += ["   :members:", "   :show-inheritance:"]
            lines += _inherited_option(getattr(module, member.name))
        if member.directive == "autodata":
            lines += ["   :no-value:"]
        lines += [""]
    return "\n".join(lines)


def _layer_of(name: str) -> str:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else ""
    for code, title, tops in LAYERS:
        if top in tops:
            return f"{code}: {title}"
    return "More modules"


def index_page(tops: list[str], aliases: dict[str, str]) -> str:
    """The layer-by-layer list of top-level modules, included by ``api/index.rst``."""
    groups: dict[str, list[str]] = {f"{c}: {t}": [] for c, t, _ in LAYERS}
    for name in tops:
        groups.setdefault(_layer_of(name), []).append(name)
    lines: list[str] = [".. py:currentmodule:: None", ""]
    for title, names in groups.items():
        if not names:
            continue
        lines += [*_heading(title, "-"), ".. autosummary::", ""]
        lines += [f"   {n}" for n in names] + [""]
        lines += [".. toctree::", "   :hidden:", ""] + [f"   generated/{n}" for n in names]
        lines += [""]
    lines += _heading("Short import paths", "-")
    lines += ["These modules re-export a module of the layers above, so older import paths"]
    lines += ["keep working; their names are documented where they are defined.", ""]
    lines += [".. list-table::", "   :header-rows: 1", "", "   * - import path", "     - module"]
    for alias, target in sorted(aliases.items()):
        lines += [f"   * - ``{alias}``", f"     - :mod:`{target}`"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    """Write only when the content changed, so Sphinx rebuilds only what changed."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(app: Sphinx) -> None:
    """Write every module page and the index of layers (``builder-inited``)."""
    out = Path(app.srcdir) / OUTPUT
    out.mkdir(parents=True, exist_ok=True)
    names = module_names()
    aliases: dict[str, str] = {}
    documented: list[str] = []
    for name in names:
        module = importlib.import_module(name)
        if is_alias(module):
            aliases[name] = alias_target(module)
        else:
            documented.append(name)
    documented.remove(PACKAGE)  # the package's own page is api/index.rst
    for name in documented:
        children = [n for n in documented if n.rpartition(".")[0] == name]
        _write(out / f"{name}.rst", module_page(name, children))
    tops = [n for n in documented if n.count(".") == 1]
    _write(out / "layers.inc", index_page(tops, aliases))
    stale = {p.name for p in out.glob("*.rst")} - {f"{n}.rst" for n in documented}
    for filename in stale:
        (out / filename).unlink()
    logger.info("apigen: %d module pages, %d short import paths", len(documented), len(aliases))


def factory_defaults(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None] | None:
    """Show a dataclass field's ``default_factory`` as ``list()`` instead of ``<factory>``
    (which Sphinx cannot parse as a default value)."""
    if not signature or "<factory>" not in signature or not dataclasses.is_dataclass(obj):
        return None
    for field in dataclasses.fields(obj):
        factory = field.default_factory
        if field.init and factory is not dataclasses.MISSING:
            label = getattr(factory, "__qualname__", "factory")
            signature = signature.replace("<factory>", f"{label}()", 1)
    return signature, return_annotation


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", generate)
    app.connect("autodoc-process-signature", factory_defaults)
    return {"version": "1", "parallel_read_safe": True}
