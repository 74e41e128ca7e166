"""deepalloc and DeepDow side by side, on the same work, in the same run.

DeepDow is installed for benchmarks only (not a dependency of deepalloc):

    .venv/bin/pip install --no-deps deepdow==0.2.3

Its imports need nothing beyond deepalloc's own dependencies. Run:

    python -m benchmarks.bench_deepdow layers     # allocation layers
    python -m benchmarks.bench_deepdow training   # one training epoch
    python -m benchmarks.bench_deepdow data       # raw_to_Xy vs make_windows (bench_windows)
    python -m benchmarks.bench_deepdow backtest   # 20 y x 500 assets (bench_backtest)

(``--quick`` for a short run, ``--threads N`` for N torch threads, ``--output FILE`` to
write the Markdown too.) Layers are
compared forward + backward after checking that both give the same weights to 1e-5
(DeepDow's layers are solved at tight SCS tolerance for that check and timed with their
defaults). ``--device cuda`` times deepalloc's layers on a GPU. All timings are paired
rounds (:func:`benchmarks.harness.paired_rounds`): warm-up outside the timed region,
then each contender once per round; ratios are medians of per-round ratios (range).
"""

from __future__ import annotations

import argparse
from functools import partial

import pandas as pd
import torch

from benchmarks.harness import (
    add_retain_memory_flag,
    apply_retain_memory_flag,
    command_line,
    emit,
    machine,
    markdown_table,
    paired_rounds,
)
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


def bench_layers(quick: bool, device: str, rounds: int) -> str:
    rows = []
    for batch, n in SIZES[:2] if quick else SIZES:
        fns = {}
        checks = {}
        for name, dd, dd_tight, da, inputs, on in layer_pairs(batch, n, device):
            w_tight = dd_tight(*inputs).detach()
            da_inputs = on(inputs)
            w_da = _fwd_bwd(da, da_inputs).cpu()
            diff = float((w_tight - w_da).abs().max())
            if diff > 1e-5:
                raise AssertionError(f"{name} {batch}x{n}: weights differ by {diff:.1e} (> 1e-5)")
            w_default = _fwd_bwd(dd, inputs)
            checks[name] = (diff, float((w_default - w_tight).abs().max()))
            fns[f"{name}/deepdow"] = lambda dd=dd, x=inputs: _fwd_bwd(dd, x)
            fns[f"{name}/deepalloc"] = lambda da=da, x=da_inputs: _fwd_bwd(da, x)
        timed = paired_rounds(fns, rounds=rounds, warmup=2, min_round_ms=20.0, device=device)
        for name, (diff, dd_error) in checks.items():
            rows.append(
                {
                    "layer": name,
                    "batch x assets": f"{batch} x {n}",
                    "DeepDow ms": timed.cell(f"{name}/deepdow"),
                    "deepalloc ms": timed.cell(f"{name}/deepalloc"),
                    "speed-up: median (range)": timed.ratio_cell(
                        f"{name}/deepdow", f"{name}/deepalloc"
                    ),
                    "max abs diff (tight)": f"{diff:.1e}",
                    "DeepDow default error": f"{dd_error:.1e}",
                }
            )
            print(rows[-1], flush=True)
    return "\n".join(
        [
            f"Machine: {machine()}; deepalloc on {device}; {rounds} paired rounds after 2 "
            "warm-up calls each",
            "",
            markdown_table(pd.DataFrame(rows)),
        ]
    )


def _synthetic(n_samples: int = 640, n_assets: int = 20, lookback: int = 40, horizon: int = 20):
    from deepalloc.data import make_windows, synthetic_market

    returns = synthetic_market(n_samples + lookback + horizon - 1, n_assets, seed=0)
    windows = make_windows(returns, lookback=lookback, horizon=horizon)
    return windows.x.contiguous(), windows.y.contiguous()


def _load() -> str:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    import os

    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def bench_training(rounds: int = 7) -> str:
    """One epoch of each network, interleaved with its DeepDow counterpart, in paired rounds.

    Shared machines drift by tens of percent within seconds, so each round times one
    epoch of every contender of a group back to back (DeepDow's network, deepalloc's,
    and the LSTM alone); the table gives the median epoch of each and the median of
    the per-round ratios. The LSTM alone (same sizes, forward + backward, no
    allocation layer, no optimiser) bounds the speed-up any implementation of the
    recurrent architecture on PyTorch's LSTM can reach; the temporal convolution
    networks (TCN) are not bound by it. deepalloc trains with its default optimizer
    (``deepalloc.training.DEFAULT_OPTIMIZER``), DeepDow with ``torch.optim.Adam``.
    """
    from deepdow.losses import SharpeRatio
    from deepdow.nn import BachelierNet, KeynesNet

    from deepalloc.losses import SharpeLoss
    from deepalloc.networks import LSTMMarkowitzNet, LSTMNet, TCNMarkowitzNet, TCNNet
    from deepalloc.training import DEFAULT_OPTIMIZER

    x, y = _synthetic()
    n_assets = x.shape[2]
    x_dd, y_dd = (
        x.permute(0, 1, 3, 2).contiguous(),
        y.permute(0, 1, 3, 2).contiguous(),
    )  # DeepDow: (n, c, time, asset)

    def epoch(net, loss, xs, ys, make_optimizer):
        opt = make_optimizer(net.parameters())
        for start in range(0, len(xs), 32):
            opt.zero_grad()
            loss(net(xs[start : start + 32]), ys[start : start + 32]).mean().backward()
            opt.step()

    def dd_epoch(net):
        plain_adam = partial(torch.optim.Adam, lr=1e-3)
        return partial(epoch, net, SharpeRatio(input_type="simple"), x_dd, y_dd, plain_adam)

    def da_epoch(net):
        return partial(epoch, net, SharpeLoss(), x, y, DEFAULT_OPTIMIZER)

    torch.manual_seed(0)
    # (DeepDow's name, its network, [(what, deepalloc's network), ...])
    groups = [
        (
            "BachelierNet",
            BachelierNet(1, n_assets, hidden_size=32),
            [
                (
                    "Markowitz network",
                    LSTMMarkowitzNet(1, hidden_size=16, bidirectional=True, pool="attention"),
                ),
                ("TCN softmax network", TCNNet(1)),
                ("TCN Markowitz network", TCNMarkowitzNet(1)),
            ],
        ),
        (
            "KeynesNet",
            KeynesNet(1, hidden_size=32, n_groups=4),
            [
                (
                    "recurrent softmax network",
                    LSTMNet(
                        1,
                        hidden_size=16,
                        bidirectional=True,
                        pool="mean",
                        allocator=SoftmaxAllocator(temperature="learnable"),
                    ),
                )
            ],
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
    load_before = _load()
    for dd_name, dd_net, ours in groups:
        contenders = {"dd": dd_epoch(dd_net), "floor": lstm_epoch}
        contenders |= {what: da_epoch(net) for what, net in ours}
        timed = paired_rounds(contenders, rounds=rounds, warmup=1)
        for what, net in ours:
            rows.append(
                {
                    "network": what,
                    "DeepDow": dd_name,
                    "DeepDow ms / epoch": timed.cell("dd"),
                    "deepalloc": type(net).__name__,
                    "deepalloc ms / epoch": timed.cell(what),
                    "speed-up: median (range)": timed.ratio_cell("dd", what),
                    "LSTM alone ms / epoch": timed.cell("floor"),
                    "deepalloc / LSTM alone": timed.ratio_cell(what, "floor"),
                    "DeepDow / LSTM alone (bound)": timed.ratio_cell("dd", "floor"),
                }
            )
            print(rows[-1], flush=True)
    return "\n".join(
        [
            f"Machine: {machine()}; load average (1/5/15 min) {load_before} before, "
            f"{_load()} after; one epoch = 640 samples, batch 32, 20 assets, lookback 40, "
            f"horizon 20; {rounds} paired rounds after one warm-up epoch each",
            "",
            markdown_table(pd.DataFrame(rows)),
        ]
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["layers", "training", "data", "backtest"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lookbacks", default="60,252")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--output", default=None)
    add_retain_memory_flag(parser)
    args = parser.parse_args(argv)
    memory = apply_retain_memory_flag(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 7)
    passed = ["--quick"] if args.quick else []
    passed += ["--output", args.output] if args.output else []
    if args.part == "data":  # the same measurement as bench_windows, which has DeepDow's column
        from benchmarks.bench_windows import main as windows_main

        return windows_main([*passed, "--lookbacks", args.lookbacks])
    if args.part == "backtest":  # DeepDow 0.2.3 has no backtest engine with drift and costs
        from benchmarks.bench_backtest import main as backtest_main

        return backtest_main(passed)
    if args.part == "layers":
        text = bench_layers(args.quick, args.device, rounds)
    else:
        text = bench_training(rounds) + f"\n\nMemory: {memory}."
    text = f"Command: `{command_line('benchmarks.bench_deepdow', argv)}`\n" + text
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
