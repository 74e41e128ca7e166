"""Figures and report folders for backtests and benchmark suites (matplotlib, loaded
lazily).

``report`` writes a suite's report folder (CSVs, figures, ``index.md`` and a
self-contained ``index.html``); ``content`` decides what it says, ``document`` and
``html`` render it, ``verdicts`` and ``folds`` compute the significance wording, Sharpe
intervals and per-fold views, ``visualize`` draws the figures and ``palette`` picks
colours that tell many assets apart.
"""
