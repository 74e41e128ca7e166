"""Attention pooling over time: NumPy reference, every memory layout, gradients; each
test runs on the torch path and on the compiled (numba) one."""

import numpy as np
import pytest
import torch

from deepalloc.layers import AssetRNN, TimePool, pooling
from deepalloc.layers.pooling import attention_pool

B, C, A, T = 3, 6, 4, 9
EPS32 = torch.finfo(torch.float32).eps


@pytest.fixture(params=["torch", "compiled"], autouse=True)
def path(request, monkeypatch):
    """Run the test on one path: torch operations, or the numba kernels."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        calls = []
        real = pooling._kernels()
        monkeypatch.setattr(pooling, "_kernels", lambda: calls.append(1) or real)
        yield request.param
        assert calls, "the compiled path was not taken"
    else:
        monkeypatch.setattr(pooling, "_compiles", lambda series: False)
        yield request.param


def np_attention(x, score, bias):
    """Loop-free float64 reference: softmax over time of the channel score, then the
    weighted sum over time, x (batch, channel, asset, time)."""
    logits = np.einsum("bcat,c->bat", x, score) + bias
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bcat,bat->bca", x, w)


def layouts(dtype):
    """The same values of shape (batch, channel, asset, time) in four memory layouts."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(B, C, A, T, generator=g, dtype=dtype)
    return {
        "contiguous": base.clone(),
        # (time, batch, asset, channel): the output of PyTorch's recurrent kernels
        "time major": base.permute(3, 0, 2, 1).contiguous().permute(1, 3, 2, 0),
        "asset major": base.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
        "time slice": torch.cat([base, base], -1)[..., 2 : 2 + T].copy_(base),
    }


def pool(dtype=torch.float64):
    torch.manual_seed(0)
    return TimePool("attention", n_channels=C).to(dtype)


@pytest.mark.parametrize("layout", ["contiguous", "time major", "asset major", "time slice"])
def test_attention_pool_matches_the_reference_in_every_layout(layout):
    x = layouts(torch.float64)[layout]
    p = pool()
    want = np_attention(x.numpy(), p.score.weight[0].detach().numpy(), p.score.bias.item())
    got = p(x)
    assert got.shape == (B, C, A)
    # float64: a few roundings of sums of C and T terms of size ~1
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("layout", ["contiguous", "time major", "asset major", "time slice"])
def test_attention_pool_gradients_are_the_finite_differences(layout):
    x = layouts(torch.float64)[layout].requires_grad_(True)
    p = pool()
    score, bias = p.score.weight[0].detach().clone(), p.score.bias[0].detach().clone()
    inputs = (x, score.requires_grad_(True), bias.requires_grad_(True))
    assert torch.autograd.gradcheck(attention_pool, inputs)


def test_attention_pool_reaches_the_linear_score_parameters():
    p = pool()
    p(layouts(torch.float64)["time major"]).pow(2).sum().backward()
    assert p.score.weight.grad is not None and p.score.weight.grad.abs().sum() > 0
    assert p.score.bias.grad is not None and torch.isfinite(p.score.bias.grad).all()


def test_attention_pool_is_first_order_only():
    x = layouts(torch.float64)["contiguous"].requires_grad_(True)
    (grad,) = torch.autograd.grad(pool()(x).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad"):
        grad.sum().backward()


def test_attention_pool_in_float32_equals_float64():
    x64 = layouts(torch.float64)["time major"] * 3
    p64 = pool()
    p32 = pool(torch.float32)
    got = p32(x64.float()).double()
    want = p64(x64)
    # every output sums T weighted terms; each weight carries the rounding of a C-term
    # score and a T-term softmax: error <~ (C + T) eps32 max|x| (times 4 for headroom)
    tol = 4 * (C + T) * EPS32 * x64.abs().max().item()
    torch.testing.assert_close(got, want, rtol=0, atol=tol)


def test_attention_pool_after_a_recurrent_block_gets_its_layout_without_a_copy():
    torch.manual_seed(0)
    rnn = AssetRNN(2, 5, bidirectional=True)
    h = rnn(torch.randn(B, 2, A, T))
    series = h.permute(3, 0, 2, 1)  # the (time, batch, asset, channel) view
    assert series.is_contiguous()  # so attention_pool's reshape is a view, not a copy
    out = TimePool("attention", n_channels=10)(h)
    assert out.shape == (B, 10, A)
