"""Statistics of return series: is a Sharpe ratio, or a difference of two, real?

NumPy, SciPy and pandas only: importing ``deepalloc.stats`` does not import torch.

Conventions, as in the papers cited by each function (:ref:`conventions-sharpe`):

- **Sharpe quantities are per period, not annualised**: ``SR = mean(r) / std(r, ddof=1)``
  of per-period returns (``deepalloc.metrics.sharpe_ratio`` is this times
  ``sqrt(periods_per_year)``). Benchmarks, standard errors, differences and the
  variance of trials' Sharpe ratios are in the same per-period units; divide an
  annualised Sharpe ratio by ``sqrt(periods_per_year)`` (and a variance by
  ``periods_per_year``) before passing it. Subtract the risk-free rate from returns
  first for excess-return Sharpe ratios.
- **Kurtosis in the formulas is the ordinary (non-excess) one**, ``g4 = m4 / m2^2``
  (3 for a normal law), and skewness is ``g3 = m3 / m2^(3/2)``, with central moments
  ``m_k = mean((r - mean(r))^k)`` (not bias-corrected). ``deepalloc.metrics.kurtosis``
  reports the bias-corrected *excess* kurtosis instead.
- Random resampling uses only the ``seed`` given (an int or a ``numpy.random.Generator``);
  the global NumPy RNG is never used.

Contents: standard errors of a Sharpe ratio (Mertens 2002; Lo 2002), the probabilistic
Sharpe ratio and minimum track record length (Bailey and López de Prado 2012), the
deflated Sharpe ratio (Bailey and López de Prado 2014), tests of the difference of two
Sharpe ratios (Ledoit and Wolf 2008; Jobson and Korkie 1981 with Memmel 2003), block
bootstrap confidence intervals of any metric (Politis and Romano 1992, 1994) and
Holm's (1979) adjustment of several p-values.
"""

from deepalloc.analysis.stats.bootstrap import (
    BootstrapInterval,
    automatic_block_length,
    block_bootstrap_indices,
    bootstrap_ci,
)
from deepalloc.analysis.stats.difference import SharpeDifference, sharpe_difference_test
from deepalloc.analysis.stats.multiple import holm
from deepalloc.analysis.stats.sharpe import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_standard_error,
)

__all__ = [
    "BootstrapInterval",
    "SharpeDifference",
    "automatic_block_length",
    "block_bootstrap_indices",
    "bootstrap_ci",
    "deflated_sharpe_ratio",
    "expected_maximum_sharpe",
    "holm",
    "minimum_track_record_length",
    "per_period_sharpe",
    "probabilistic_sharpe_ratio",
    "sharpe_difference_test",
    "sharpe_standard_error",
]
