"""Bundled real market data and a reader for users' price files.

The two bundled price files are the datasets distributed with skfolio (BSD-3-Clause,
Copyright (c) skfolio developers; prices originally from Yahoo Finance). See the
``NOTICE`` file next to this module.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from deepalloc.data.frames import validate_frame

__all__ = ["load_factor_etfs", "load_sp500", "read_prices"]


def _load_bundled(filename: str) -> pd.DataFrame:
    with resources.as_file(resources.files(__package__) / "files" / filename) as path:
        frame = pd.read_csv(path, index_col="date", parse_dates=True)
    validate_frame(frame, filename, positive=True)
    return frame


def load_sp500() -> pd.DataFrame:
    """Daily adjusted close prices of 20 S&P 500 stocks, 1990-01-02 to 2022-12-28.

    Assets: AAPL, AMD, BAC, BBY, CVX, GE, HD, JNJ, JPM, KO, LLY, MRK, MSFT, PEP, PFE,
    PG, RRC, UNH, WMT, XOM. Source: the skfolio package's dataset (BSD-3-Clause,
    Copyright (c) skfolio developers), prices from Yahoo Finance.

    Returns
    -------
    pandas.DataFrame
        Shape (8313, 20), ``DatetimeIndex`` named ``date``.
    """
    return _load_bundled("sp500_prices.csv.gz")


def load_factor_etfs() -> pd.DataFrame:
    """Daily prices of five factor ETFs (MTUM, QUAL, SIZE, USMV, VLUE), 2014-01-02 to 2022-12-28.

    Source: the skfolio package's dataset (BSD-3-Clause, Copyright (c) skfolio
    developers), prices from Yahoo Finance.

    Returns
    -------
    pandas.DataFrame
        Shape (2264, 5), ``DatetimeIndex`` named ``date``.
    """
    return _load_bundled("factor_etf_prices.csv.gz")


def read_prices(path: str | Path, *, date_column: str | int = 0) -> pd.DataFrame:
    """Read a user's price file (CSV, optionally compressed, or Parquet) and validate it.

    Parameters
    ----------
    path
        File with one date column and one column per asset. ``.parquet`` files need
        the ``parquet`` extra (pyarrow).
    date_column
        Name or position of the date column (CSV only; a Parquet file's index or first
        column is used).

    Returns
    -------
    pandas.DataFrame
        Date x asset prices that pass :func:`deepalloc.data.validate_frame` with
        ``positive=True``; bad files raise with the offending date or column.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"prices: expected an existing file, got {path}")
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError as err:
            raise ImportError(
                "reading Parquet needs the 'parquet' extra: pip install 'deepalloc[parquet]'"
            ) from err
        if not isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.set_index(frame.columns[0])
            frame.index = pd.to_datetime(frame.index)
    else:
        frame = pd.read_csv(path, index_col=date_column, parse_dates=True)
    validate_frame(frame, str(path), positive=True)
    return frame
