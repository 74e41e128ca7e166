"""numba kernels of attention pooling (:func:`deepalloc.layers.pooling.attention_pool`).

This module imports numba (the ``fast`` extra) and is imported on first use only. Each
kernel makes two passes over the (time, n, channel) series in memory order and keeps
its small intermediates ((time, n) and (n, channel)) in cache, where the torch
operations make five and allocate temporaries as large as the series. Sums accumulate
in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_jit = njit(cache=True, nogil=True, fastmath={"reassoc"})
"""Sums may be reassociated (so the compiler vectorises the dot products over
channels, which otherwise wait on each addition in turn); nothing else is relaxed."""


@_jit
def forward(series, score, bias, out, weights):
    """``weights[:, j] = softmax_t(series[:, j] @ score + bias)`` and
    ``out[j] = sum_t weights[t, j] series[t, j]``; series (time, n, channel).

    Two passes over the series in memory order (time, then n): the logits, then the
    weighted sum into ``out``, which stays in cache."""
    t, n, c = series.shape
    logits = np.empty((t, n))
    for k in range(t):
        for j in range(n):
            row = series[k, j]
            s = float(bias)
            for i in range(c):
                s += row[i] * score[i]
            logits[k, j] = s
    for j in range(n):
        top = -np.inf
        for k in range(t):
            top = max(top, logits[k, j])
        total = 0.0
        for k in range(t):
            logits[k, j] = math.exp(logits[k, j] - top)
            total += logits[k, j]
        for k in range(t):
            logits[k, j] /= total
    acc = np.zeros((n, c))
    for k in range(t):
        for j in range(n):
            w = logits[k, j]
            weights[k, j] = w
            row = series[k, j]
            for i in range(c):
                acc[j, i] += w * row[i]
    for j in range(n):
        for i in range(c):
            out[j, i] = acc[j, i]


@_jit
def backward(series, score, weights, grad, grad_series, grad_score):
    """The gradients of :func:`forward` from ``grad = dL/dout`` (n, channel): into
    ``grad_series`` (time, n, channel) and ``grad_score`` (channel,); returns the
    gradient in the bias. With ``dL/dw_t = series_t . grad``:
    ``dL/dlogit_t = w_t (dL/dw_t - sum_s w_s dL/dw_s)``,
    ``dL/dseries_t = w_t grad + dL/dlogit_t score``. Two passes over the series in
    memory order."""
    t, n, c = series.shape
    grad_w = np.empty((t, n))
    mean = np.zeros(n)
    for k in range(t):
        for j in range(n):
            row = series[k, j]
            g = grad[j]
            s = 0.0
            for i in range(c):
                s += row[i] * g[i]
            grad_w[k, j] = s
            mean[j] += weights[k, j] * s
    score_acc = np.zeros(c)
    bias_acc = 0.0
    for k in range(t):
        for j in range(n):
            w = weights[k, j]
            grad_logit = w * (grad_w[k, j] - mean[j])
            bias_acc += grad_logit
            row = series[k, j]
            g = grad[j]
            out = grad_series[k, j]
            for i in range(c):
                out[i] = w * g[i] + grad_logit * score[i]
                score_acc[i] += grad_logit * row[i]
    for i in range(c):
        grad_score[i] = score_acc[i]
    return bias_acc
