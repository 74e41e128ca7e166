"""deepalloc and DeepDow side by side, on the same work, in the same run.

DeepDow is installed for benchmarks only (not a dependency of deepalloc):

    .venv/bin/pip install --no-deps deepdow==0.2.3

Its imports need nothing beyond deepalloc's own dependencies. Run:

    .venv/bin/python -m benchmarks.bench_deepdow layers     # allocation layers
    .venv/bin/python -m benchmarks.bench_deepdow training   # one training epoch
    .venv/bin/python -m benchmarks.bench_deepdow data       # raw_to_Xy vs make_windows
    .venv/bin/python -m benchmarks.bench_deepdow backtest   # 20 y x 500 assets

Layers are compared forward + backward after checking that both give the same weights
to 1e-5 (DeepDow's layers are solved at tight SCS tolerance for that check and timed
with their defaults). ``--device cuda`` times deepalloc's layers on a GPU.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from benchmarks.harness import machine, markdown_table, median_ms, peak_increase_mb
from deepalloc.allocators import MarkowitzAllocator, SoftmaxAllocator, SparsemaxAllocator

SIZES = [(32, 10), (32, 50), (32, 100), (32, 250), (256, 50)]
TIGHT = {"solve_method": "SCS", "eps_abs": 1e-10, "eps_rel": 1e-10, "max_iters": 200_000}


def _cap(n: int) -> float:
    return 0.2 if n <= 10 else 0.1


def _fwd_bwd(fn, inputs):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    out.pow(2).sum().backward()
    return out.detach()


def layer_pairs(batch: int, n: int, device: str):
    """(name, deepdow fn, deepdow tight fn, deepalloc fn, inputs) for one size."""
    from deepdow.layers import NumericalMarkowitz
    from deepdow.layers import SoftmaxAllocator as DDSoftmax
    from deepdow.layers import SparsemaxAllocator as DDSparsemax

    cap = _cap(n)
    g = torch.Generator().manual_seed(n)
    mu = torch.randn(batch, n, generator=g, dtype=torch.float64) * 0.05
    s = torch.randn(batch, n, n, generator=g, dtype=torch.float64) * 0.2 / n**0.5
    gamma_sqrt = torch.full(
        (batch,), 1.3, dtype=torch.float64
    )  # one value: DeepDow scrambles per-sample gammas
    alpha = torch.full((batch,), 0.01, dtype=torch.float64)
    scores = torch.randn(batch, n, generator=g, dtype=torch.float64)

    dd_mark = NumericalMarkowitz(n, max_weight=cap)
    da_mark = MarkowitzAllocator(n, max_weight=cap)
    dd_sparse = DDSparsemax(n, max_weight=cap)
    dd_soft = DDSoftmax(formulation="variational", n_assets=n, max_weight=cap)
    da_sparse = SparsemaxAllocator(max_weight=cap)
    da_soft = SoftmaxAllocator(max_weight=cap)

    def dd_mark_tight(m, sq, gs, a):
        return dd_mark.cvxpylayer(m, gs[:, None, None] * sq, a.abs(), solver_args=TIGHT)[0]

    def dd_sparse_tight(z):
        return dd_sparse.layer(z, solver_args=TIGHT)[0]

    def dd_soft_tight(z):
        return dd_soft.layer(z, solver_args=TIGHT)[0]

    def on(t):
        return [x.to(device) for x in t]

    return [
        (
            "markowitz",
            dd_mark,
            dd_mark_tight,
            lambda m, sq, gs, a: da_mark(m, sq, gs**2, a),
            (mu, s, gamma_sqrt, alpha),
            on,
        ),
        ("sparsemax", dd_sparse, dd_sparse_tight, da_sparse, (scores,), on),
        ("softmax", dd_soft, dd_soft_tight, da_soft, (scores,), on),
    ]


def bench_layers(quick: bool, device: str) -> None:
    rows = []
    for batch, n in SIZES[:2] if quick else SIZES:
        for name, dd, dd_tight, da, inputs, on in layer_pairs(batch, n, device):
            w_tight = dd_tight(*inputs).detach()
            da_inputs = on(inputs)
            w_da = _fwd_bwd(da, da_inputs).cpu()
            diff = float((w_tight - w_da).abs().max())
            if diff > 1e-5:
                raise AssertionError(f"{name} {batch}x{n}: weights differ by {diff:.1e} (> 1e-5)")
            w_default = _fwd_bwd(dd, inputs)
            t_da = median_ms(lambda da=da, x=da_inputs: _fwd_bwd(da, x), repeat=7)
            t_dd = median_ms(lambda dd=dd, x=inputs: _fwd_bwd(dd, x), repeat=3, warmup=0)
            rows.append(
                {
                    "layer": name,
                    "size": f"{batch} x {n}",
                    "deepdow_ms": t_dd,
                    "deepalloc_ms": t_da,
                    "speedup": t_dd / t_da,
                    "max_diff_vs_tight_deepdow": diff,
                    "deepdow_default_error": float((w_default - w_tight).abs().max()),
                }
            )
            print(rows[-1], flush=True)
    print(f"\nmachine: {machine()}; deepalloc on {device}\n")
    print(markdown_table(pd.DataFrame(rows)))


def _synthetic(n_samples: int = 640, n_assets: int = 20, lookback: int = 40, horizon: int = 20):
    from deepalloc.data import make_windows, synthetic_market

    returns = synthetic_market(n_samples + lookback + horizon - 1, n_assets, seed=0)
    windows = make_windows(returns, lookback=lookback, horizon=horizon)
    return windows.x.contiguous(), windows.y.contiguous()


def bench_training(rounds: int = 7) -> None:
    """One epoch of each pair, alternating the libraries in ``rounds`` paired rounds.

    Shared machines drift by tens of percent within seconds, so each round times one
    DeepDow epoch and one deepalloc epoch back to back; the table gives the median epoch
    of each and the median of the per-round ratios. Each round also times the LSTM
    alone (same sizes, forward + backward, no allocation layer, no optimiser): DeepDow's
    epoch over that time bounds the speed-up any implementation of the same
    architecture on PyTorch's LSTM can reach.
    """
    from deepdow.losses import SharpeRatio
    from deepdow.nn import BachelierNet, KeynesNet

    from deepalloc.losses import SharpeLoss
    from deepalloc.networks import LSTMMarkowitzNet, LSTMNet

    x, y = _synthetic()
    n_assets = x.shape[2]
    x_dd, y_dd = (
        x.permute(0, 1, 3, 2).contiguous(),
        y.permute(0, 1, 3, 2).contiguous(),
    )  # DeepDow: (n, c, time, asset)

    def epoch(net, loss, xs, ys):
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for start in range(0, len(xs), 32):
            opt.zero_grad()
            loss(net(xs[start : start + 32]), ys[start : start + 32]).mean().backward()
            opt.step()

    torch.manual_seed(0)
    pairs = [
        (
            "Markowitz network",
            "BachelierNet",
            BachelierNet(1, n_assets, hidden_size=32),
            LSTMMarkowitzNet(1, hidden_size=16, bidirectional=True, pool="attention"),
        ),
        (
            "recurrent softmax network",
            "KeynesNet",
            KeynesNet(1, hidden_size=32, n_groups=4),
            LSTMNet(
                1,
                hidden_size=16,
                bidirectional=True,
                pool="mean",
                allocator=SoftmaxAllocator(temperature="learnable"),
            ),
        ),
    ]
    # the floor: the shared recurrence alone, PyTorch's own LSTM (the kernel both
    # libraries call) forward + backward on every asset's sequence of every batch
    lstm = torch.nn.LSTM(1, 16, batch_first=True, bidirectional=True)
    sequences = x.permute(0, 2, 3, 1).reshape(-1, 32 * n_assets, x.shape[-1], 1)

    def lstm_epoch():
        for batch in sequences:
            lstm(batch)[0].sum().backward()

    rows = []
    for what, dd_name, dd_net, da_net in pairs:
        times: dict[str, list[float]] = {"dd": [], "da": [], "floor": []}
        for _ in range(rounds + 1):  # the first round warms up
            times["dd"].append(
                median_ms(
                    lambda n=dd_net: epoch(n, SharpeRatio(input_type="simple"), x_dd, y_dd),
                    repeat=1,
                    warmup=0,
                )
            )
            times["da"].append(
                median_ms(lambda n=da_net: epoch(n, SharpeLoss(), x, y), repeat=1, warmup=0)
            )
            times["floor"].append(median_ms(lstm_epoch, repeat=1, warmup=0))
        dd_s, da_s, floor_s = (pd.Series(times[k][1:]) for k in ("dd", "da", "floor"))
        ratios = dd_s / da_s
        rows.append(
            {
                "network": what,
                "deepdow": dd_name,
                "deepdow_ms": dd_s.median(),
                "deepalloc": type(da_net).__name__,
                "deepalloc_ms": da_s.median(),
                "speedup": ratios.median(),
                "speedup_range": f"{ratios.min():.1f}-{ratios.max():.1f}",
                "lstm_alone_ms": floor_s.median(),
                "speedup_bound": (dd_s / floor_s).median(),
            }
        )
        print(rows[-1], flush=True)
    print(
        f"\nmachine: {machine()}; one epoch = 640 samples, batch 32, 20 assets, lookback 40, "
        f"horizon 20; {rounds} paired rounds\n"
    )
    print(markdown_table(pd.DataFrame(rows)))


DATA_SETUP = """
import numpy as np, pandas as pd, torch
import deepdow.utils, deepalloc.data
rng = np.random.default_rng(0)
index = pd.bdate_range('2000-01-03', periods=5040)
prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (5040, 500)), 0)), index=index,
                      columns=[f'a{i}' for i in range(500)])
"""
DEEPDOW_WORK = """
from deepdow.utils import raw_to_Xy
raw = pd.concat({'close': prices}, axis=1).swaplevel(axis=1).sort_index(axis=1)
X, timestamps, y, asset_names, indicators = raw_to_Xy(raw, lookback={lookback}, horizon=20, use_log=False)
"""
DEEPALLOC_WORK = """
from deepalloc.data import make_windows, prices_to_returns
w = make_windows(prices_to_returns(prices), lookback={lookback}, horizon=20)
batch = (w.x[:32].clone(), w.y[:32].clone())
"""


def bench_data(lookbacks: list[int]) -> None:
    import time

    rows = []
    ns: dict[str, object] = {}
    exec(DATA_SETUP, ns)
    for lookback in lookbacks:
        result: dict[str, float] = {"lookback": lookback}
        for name, work in (("deepdow", DEEPDOW_WORK), ("deepalloc", DEEPALLOC_WORK)):
            code = work.replace("{lookback}", str(lookback))
            result[f"{name}_peak_mib"] = peak_increase_mb(DATA_SETUP, code)
            start = time.perf_counter()
            exec(code, ns)
            result[f"{name}_s"] = time.perf_counter() - start
            ns.pop("X", None)
            ns.pop("w", None)
        result["memory_ratio"] = result["deepdow_peak_mib"] / result["deepalloc_peak_mib"]
        result["time_ratio"] = result["deepdow_s"] / result["deepalloc_s"]
        rows.append(result)
        print(result, flush=True)
    print(f"\nmachine: {machine()}; 5,040 dates x 500 assets of prices, horizon 20\n")
    print(markdown_table(pd.DataFrame(rows)))


def bench_backtest() -> None:
    from benchmarks.bench_backtest import main as backtest_main

    backtest_main()
    print("DeepDow 0.2.3 has no backtest engine with drift and costs to compare against.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["layers", "training", "data", "backtest"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lookbacks", default="60,252")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.part == "layers":
        bench_layers(args.quick, args.device)
    elif args.part == "training":
        bench_training(args.rounds)
    elif args.part == "data":
        bench_data([int(v) for v in args.lookbacks.split(",")])
    else:
        bench_backtest()
