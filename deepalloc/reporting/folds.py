"""Per-fold views of a suite: fold labels, fold x strategy tables, and networks that
stayed at equal weight.

A network "did not learn" on a fold when its decisions on that fold's test block stay
close to equal weight. The distance used is the **active share against equal
weight** (Cremers and Petajisto 2009 use it against an index), averaged over the
fold's test decision dates::

    d = mean over dates t of  0.5 * sum_i |w_ti - 1/n|

with ``n`` the number of assets. It is the fraction of the portfolio placed
differently from equal weight: 0 for equal weight, ``1 - 1/n`` for all in one asset.
Below :data:`NEAR_EQUAL_WEIGHT` (5% of the portfolio) the network is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from deepalloc.evaluation.strategies import ensemble_name

NEAR_EQUAL_WEIGHT = 0.05
"""Mean active share against equal weight below which a network is flagged."""


def fold_labels(folds: pd.DataFrame) -> list[str]:
    """A short label for each fold (rows of ``SuiteResult.folds``).

    The test year (``"2019"``) when every fold's test block lies within one calendar
    year and no two folds share one; otherwise the first test date (``"2019-03-29"``).
    """
    starts = pd.to_datetime(folds["test_start"])
    ends = pd.to_datetime(folds["test_end"])
    years = [s.year for s in starts]
    if all(s.year == e.year for s, e in zip(starts, ends, strict=True)) and len(set(years)) == len(
        years
    ):
        return [str(y) for y in years]
    return [str(s.date()) for s in starts]


def fold_metric_table(
    fold_tables: Sequence[pd.DataFrame], labels: Sequence[str], metric: str
) -> pd.DataFrame:
    """Strategies x folds: one metric of each fold's table (columns the fold labels)."""
    if len(fold_tables) != len(labels):
        raise ValueError(
            f"labels: expected one per fold table ({len(fold_tables)}), got {len(labels)}"
        )
    frame = pd.DataFrame(
        {label: table[metric] for label, table in zip(labels, fold_tables, strict=True)}
    )
    frame.columns = pd.Index(list(labels), name="fold")
    return frame


def active_share_vs_equal_weight(weights: pd.DataFrame) -> pd.Series:
    """``0.5 * sum_i |w_ti - 1/n|`` on each date of a (date x asset) weights frame."""
    n = weights.shape[1]
    if n == 0:
        raise ValueError("weights: expected at least one asset column, got none")
    return 0.5 * (weights - 1.0 / n).abs().sum(axis=1)


def network_rows(seed_runs: Mapping[str, Sequence[str]], names: Sequence[str]) -> list[str]:
    """The rows of a suite that networks produced: every seed's, then the ensemble's."""
    rows: list[str] = []
    for network, runs in seed_runs.items():
        rows += list(runs)
        ensemble = ensemble_name(network)
        if ensemble in names and ensemble not in rows:
            rows.append(ensemble)
    return rows


def equal_weight_distance(
    weights: Mapping[str, pd.DataFrame], folds: pd.DataFrame, labels: Sequence[str]
) -> pd.DataFrame:
    """Strategies x folds: mean active share against equal weight on each fold's test
    decision dates (``test_start`` to ``test_end`` inclusive); NaN where a strategy has
    no decision in a fold."""
    starts = pd.to_datetime(folds["test_start"])
    ends = pd.to_datetime(folds["test_end"])
    rows = {}
    for name, frame in weights.items():
        share = active_share_vs_equal_weight(frame)
        rows[name] = [
            float(share[(share.index >= a) & (share.index <= b)].mean())
            if ((share.index >= a) & (share.index <= b)).any()
            else np.nan
            for a, b in zip(starts, ends, strict=True)
        ]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(labels))
    out.columns.name = "fold"
    return out


def did_not_learn(distance: pd.DataFrame, threshold: float = NEAR_EQUAL_WEIGHT) -> list[str]:
    """One sentence per strategy naming the folds where its distance is below
    ``threshold`` ("net did not learn on fold 2019: ...")."""
    out = []
    for name, row in distance.iterrows():
        low = [
            (str(label), float(v)) for label, v in row.items() if np.isfinite(v) and v < threshold
        ]
        if low:
            folds = ", ".join(label for label, _ in low)
            shares = ", ".join(f"{v:.1%}" for _, v in low)
            out.append(
                f"{name} did not learn on fold{'s' if len(low) > 1 else ''} {folds}: its "
                f"weights stay within {shares} active share of equal weight "
                f"(threshold {threshold:.0%})"
            )
    return out


__all__ = [
    "NEAR_EQUAL_WEIGHT",
    "active_share_vs_equal_weight",
    "did_not_learn",
    "equal_weight_distance",
    "fold_labels",
    "fold_metric_table",
    "network_rows",
]
