"""numba kernels of attention pooling (:func:`deepalloc.layers.pooling.attention_pool`).

This module imports numba (the ``fast`` extra) and is imported on first use only. Each
kernel reads a series once per pass, one (time, channel) slice at a time, which stays
in the first-level cache, where the torch operations each make a pass over the whole
(time, n, channel) tensor and allocate one as large. Sums accumulate in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def forward(series, score, bias, out, weights):
    """``weights[:, j] = softmax_t(series[:, j] @ score + bias)`` and
    ``out[j] = sum_t weights[t, j] series[t, j]``; series (time, n, channel)."""
    t, n, c = series.shape
    logits = np.empty(t)
    acc = np.empty(c)
    for j in range(n):
        top = -np.inf
        for k in range(t):
            row = series[k, j]
            s = float(bias)
            for i in range(c):
                s += row[i] * score[i]
            logits[k] = s
            top = max(top, s)
        total = 0.0
        for k in range(t):
            logits[k] = math.exp(logits[k] - top)
            total += logits[k]
        acc[:] = 0.0
        for k in range(t):
            w = logits[k] / total
            weights[k, j] = w
            row = series[k, j]
            for i in range(c):
                acc[i] += w * row[i]
        for i in range(c):
            out[j, i] = acc[i]


@njit(cache=True, nogil=True)
def backward(series, score, weights, grad, grad_series, grad_score):
    """The gradients of :func:`forward` from ``grad = dL/dout`` (n, channel): into
    ``grad_series`` (time, n, channel) and ``grad_score`` (channel,); returns the
    gradient in the bias. With ``dL/dw_t = series_t . grad``:
    ``dL/dlogit_t = w_t (dL/dw_t - sum_s w_s dL/dw_s)``,
    ``dL/dseries_t = w_t grad + dL/dlogit_t score``."""
    t, n, c = series.shape
    grad_w = np.empty(t)
    score_acc = np.zeros(c)
    bias_acc = 0.0
    for j in range(n):
        g = grad[j]
        mean = 0.0
        for k in range(t):
            row = series[k, j]
            s = 0.0
            for i in range(c):
                s += row[i] * g[i]
            grad_w[k] = s
            mean += weights[k, j] * s
        for k in range(t):
            w = weights[k, j]
            grad_logit = w * (grad_w[k] - mean)
            bias_acc += grad_logit
            row = series[k, j]
            out = grad_series[k, j]
            for i in range(c):
                out[i] = w * g[i] + grad_logit * score[i]
                score_acc[i] += grad_logit * row[i]
    for i in range(c):
        grad_score[i] = score_acc[i]
    return bias_acc
