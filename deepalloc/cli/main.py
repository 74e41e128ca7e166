"""The ``deepalloc`` command: ``demo``, ``run CONFIG.toml``, ``tune CONFIG.toml`` and ``backtest``.

Errors in what the user gave (arguments, files, configurations) end the command with
one line ``deepalloc: error: ...`` on stderr naming the file, section or argument,
and exit status 2; Ctrl-C ends it with one line and status 130. A traceback means a
bug in deepalloc.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from deepalloc._memory import retain_freed_memory
from deepalloc._version import __version__
from deepalloc.cli import commands
from deepalloc.cli.commands import CommandError
from deepalloc.config import ConfigError
from deepalloc.config.checks import Invalid, period_frequency

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line ``deepalloc: error: ...``."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')")
        raise SystemExit(EXIT_ERROR)


def _fail(message: str) -> None:
    print(f"deepalloc: error: {message}", file=sys.stderr, flush=True)


def _existing_file(text: str) -> str:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"expected an existing file, got {text!r}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"expected a file, got {text!r}, which is a folder")
    return text


def _folder(text: str) -> str:
    path = Path(text)
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(
            f"expected a folder, got {text!r}, but {str(existing)!r} is a file"
        )
    return text


def _finite_at_least(low: float, expected: str) -> Callable[[str], float]:
    """An argument type: a finite number of at least ``low``, else "expected ..."."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_basis_points = _finite_at_least(0.0, "finite non-negative basis points (10 = 0.1%)")
_leverage = _finite_at_least(1.0, "a finite gross exposure of at least 1 (sum of |w|)")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _frequency(text: str) -> str:

    try:
        return str(period_frequency()(text))
    except Invalid as err:
        raise argparse.ArgumentTypeError(
            f"expected {err.expected}, got {text!r}{err.hint}"
        ) from None


def _add_demo(sub: Any) -> None:
    """``deepalloc demo``."""
    demo = sub.add_parser(
        "demo", help="walk-forward benchmark on the bundled S&P 500 data, with a report"
    )
    demo.add_argument(
        "--output", type=_folder, default=None, help="report folder (default deepalloc-report)"
    )
    demo.add_argument(
        "--quick", action="store_true", help="two folds and two epochs, for a smoke run"
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    demo.set_defaults(func=commands.demo)


def _add_run(sub: Any) -> None:
    """``deepalloc run CONFIG.toml``."""
    run = sub.add_parser(
        "run",
        help="run a benchmark suite described by a TOML file",
        description="Run a benchmark suite described by a TOML file (see examples/config.toml)."
        " The whole file and its data are checked before anything is trained.",
    )
    run.add_argument("config", type=_existing_file, help="path of the TOML configuration")
    run.add_argument(
        "--output", type=_folder, default=None, help="report folder (overrides [output].path)"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    run.add_argument(
        "--check", action="store_true", help="check the configuration and data, train nothing"
    )
    run.add_argument(
        "--final",
        action="store_true",
        help="then train every network on all data, save it under <output>/models and write "
        "<output>/latest_weights.csv (every strategy's weights for the day after the last date)",
    )
    run.set_defaults(func=commands.run)


def _add_predict(sub: Any) -> None:
    """``deepalloc predict MODEL PRICES.csv``."""
    pr = sub.add_parser("predict", help="weights of a saved model for the latest (or a given) date")
    pr.add_argument("model", type=_existing_file, help="a model file (deepalloc run --final)")
    pr.add_argument(
        "prices", type=_existing_file, help="CSV: first column dates, then one column per asset"
    )
    pr.add_argument("--date", default=None, help="decision date (default: the last price date)")
    pr.add_argument(
        "--holdings",
        type=_existing_file,
        default=None,
        help="CSV of the weights held now (one row, one column per asset), for a "
        "holdings-aware model (default: decide as from cash)",
    )
    pr.add_argument("--output", default=None, help="write the weights to this CSV file")
    pr.set_defaults(func=commands.predict)


def _add_tune(sub: Any) -> None:
    """``deepalloc tune CONFIG.toml``."""
    tune = sub.add_parser(
        "tune",
        help="search hyper-parameters inside the walk-forward folds ([search] of a TOML file)",
        description="Search the hyper-parameters of one network on Ray Tune (the [search] "
        "section of a suite file), nested inside the walk-forward: trials are scored on each "
        "fold's inner validation block only; the best configuration is retrained and tested "
        "on the fold's test block, against the baselines (needs the 'tune' extra).",
    )
    tune.add_argument("config", type=_existing_file, help="path of the TOML configuration")
    tune.add_argument(
        "--output", type=_folder, default=None, help="report folder (overrides [output].path)"
    )
    tune.add_argument(
        "--resume",
        action="store_true",
        help="continue the search stored in [search].storage (as resume = true)",
    )
    tune.add_argument(
        "--check", action="store_true", help="check the configuration and data, train nothing"
    )
    tune.set_defaults(func=commands.tune)


def _add_backtest(sub: Any) -> None:
    """``deepalloc backtest WEIGHTS.csv PRICES.csv``."""
    bt = sub.add_parser("backtest", help="backtest a weights CSV against a prices CSV")
    bt.add_argument(
        "weights", type=_existing_file, help="CSV: first column dates, then one column per asset"
    )
    bt.add_argument(
        "prices", type=_existing_file, help="CSV: first column dates, then one column per asset"
    )
    bt.add_argument(
        "--costs-bps", type=_basis_points, default=0.0, help="proportional costs in basis points"
    )
    bt.add_argument(
        "--rebalance",
        type=_frequency,
        default=None,
        help="pandas period frequency (W, M, Q, Y); default: trade every decision",
    )
    bt.add_argument(
        "--lag", type=_non_negative_int, default=0, help="dates between a decision and its trade"
    )
    bt.add_argument(
        "--leverage",
        type=_leverage,
        default=1.0,
        help="largest gross exposure sum(|w|) allowed on any date (default 1: no leverage)",
    )
    bt.set_defaults(func=commands.backtest)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deepalloc`` command."""
    parser = _Parser(prog="deepalloc", description="Differentiable portfolio allocation.")
    parser.add_argument("--version", action="version", version=f"deepalloc {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{demo,run,tune,predict,backtest}"
    )
    _add_demo(sub)
    _add_run(sub)
    _add_tune(sub)
    _add_predict(sub)
    _add_backtest(sub)
    return parser


def _os_message(err: OSError) -> str:
    if err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepalloc`` command; returns the exit status.

    Parameters
    ----------
    argv
        Arguments after the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for an invalid input (one line on stderr), 130 on Ctrl-C.
    """
    try:
        try:
            args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        except SystemExit as stop:  # --help, --version or an argument error
            return stop.code if isinstance(stop.code, int) else EXIT_ERROR
        # this process is the command's own: training steps reuse freed memory
        retain_freed_memory()
        return int(args.func(args))
    except KeyboardInterrupt:
        print("deepalloc: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except (CommandError, ConfigError) as err:
        _fail(str(err))
    except OSError as err:
        _fail(_os_message(err))
    return EXIT_ERROR
