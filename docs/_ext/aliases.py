"""Resolve cross-references to the place where an object is documented.

Objects are documented once, in the module that defines them (``apigen.py``), but
docstrings and pages name them by any path that imports them: a package's re-export
(``deepalloc.allocators.MarkowitzAllocator``), a short import path
(``deepalloc.backtest.backtest``), or a short name in the current module's namespace
(``Callback`` inside ``deepalloc.training.loop``). When Sphinx finds no target for a
Python reference, this extension imports the name, finds the object's defining module
and qualified name, and links there.

What still has no target after that:

- an importable object outside ``deepalloc`` (``torch.Tensor``, ``os.replace``: no
  inventories are fetched, so builds need no network) or a private one
  (``deepalloc.allocators.qp._pdas_step``) is shown as code, without a warning;
- anything else (a misspelt name, a public object left undocumented) keeps Sphinx's
  nitpicky warning, which fails the build.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from typing import Any, TypeVar

from apigen import PACKAGE, alias_target, is_alias
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.nodes import make_refnode


def _import_longest(parts: list[str]) -> tuple[Any, int] | None:
    for i in range(len(parts), 0, -1):
        try:
            return importlib.import_module(".".join(parts[:i])), i
        except Exception:  # any failure means "not a module"
            continue
    return None


def locate(path: str) -> tuple[Any, str] | None:
    """The object ``path`` names and its canonical dotted name, or ``None``."""
    parts = path.split(".")
    found = _import_longest(parts)
    if found is None:
        return None
    obj, i = found
    canonical = obj.__name__
    for attr in parts[i:]:
        try:
            obj = getattr(obj, attr)
        except Exception:  # a missing attribute or a failing lazy import
            return None
        target = getattr(obj, "__func__", obj)
        qualname = getattr(target, "__qualname__", None)
        module = getattr(target, "__module__", None)
        if inspect.ismodule(obj):
            canonical = obj.__name__
        elif (inspect.isclass(target) or inspect.isfunction(target)) and module and qualname:
            canonical = f"{module}.{qualname}"
        else:
            canonical = f"{canonical}.{attr}"
    return obj, canonical


@functools.cache
def type_checking_imports(module: str) -> dict[str, str]:
    """Names a module imports under ``if TYPE_CHECKING:`` -> their full paths.

    Annotations that use them cannot be evaluated, so autodoc leaves the bare name
    (``Figure``); this finds what it stands for (``matplotlib.figure.Figure``).
    """
    try:
        tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    except Exception:  # no source, no names
        return {}
    names: dict[str, str] = {}
    for node in tree.body:
        test = getattr(node, "test", None)
        if not isinstance(node, ast.If) or ast.unparse(test) not in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module:
                names.update({a.asname or a.name: f"{stmt.module}.{a.name}" for a in stmt.names})
            elif isinstance(stmt, ast.Import):
                names.update({a.asname or a.name: a.name for a in stmt.names})
    return names


def _candidates(node: nodes.Element) -> list[str]:
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    names = [target]
    if module:
        if cls:
            names.append(f"{module}.{cls}.{target}")
        parts = module.split(".")
        names += [".".join([*parts[:i], target]) for i in range(len(parts), 0, -1)]
        head, _, rest = target.partition(".")
        imported = type_checking_imports(module).get(head)
        if imported:
            names.append(f"{imported}.{rest}" if rest else imported)
    return names


def _documented_data(env: BuildEnvironment, obj: Any, last: str) -> str | None:
    """A documented constant that is ``obj`` itself (constants have no ``__module__``)."""
    for name, entry in env.get_domain("py").objects.items():
        if entry.objtype == "data" and name.rpartition(".")[2] == last:
            found = locate(name)
            if found is not None and found[0] is obj:
                return name
    return None


def _documented(env: BuildEnvironment, obj: Any, canonical: str) -> str | None:
    objects = env.get_domain("py").objects
    if canonical in objects:
        return canonical
    if inspect.ismodule(obj) and is_alias(obj):
        return alias_target(obj)
    return _documented_data(env, obj, canonical.rpartition(".")[2])


def resolve(
    app: Sphinx, env: BuildEnvironment, node: nodes.Element, contnode: nodes.Element
) -> nodes.Element | None:
    """``missing-reference`` handler for the Python domain."""
    if node.get("refdomain") != "py":
        return None
    for name in _candidates(node):
        found = locate(name)
        if found is None:
            continue
        obj, canonical = found
        if isinstance(obj, TypeVar):
            return contnode
        documented = _documented(env, obj, canonical)
        if documented is not None:
            entry = env.get_domain("py").objects[documented]
            return make_refnode(
                app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, documented
            )
        private = any(part.startswith("_") for part in canonical.split(".")[1:])
        if canonical.split(".")[0] != PACKAGE or private:
            return contnode
    return None


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("missing-reference", resolve)
    return {"version": "1", "parallel_read_safe": True}
