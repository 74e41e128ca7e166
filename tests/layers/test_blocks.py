import pytest
import torch

from deepalloc.layers import (
    AssetConv,
    AssetRNN,
    CrossAssetAttention,
    Dense,
    InstanceNorm,
    Maxout,
    TimePool,
)

B, C, A, L = 3, 2, 5, 12


@pytest.fixture
def x():
    return torch.randn(B, C, A, L, generator=torch.Generator().manual_seed(0))


def assert_grads(module, out):
    out.pow(2).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "maxout"])
@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_dense_per_asset_and_cross_section(x, activation, norm):
    torch.manual_seed(0)
    per_asset = Dense(C, L, 4, hidden=(8,), activation=activation, norm=norm, dropout=0.1)
    out = per_asset(x)
    assert out.shape == (B, 4, A)
    assert_grads(per_asset, out)
    cross = Dense(C, L, A, per_asset=False, n_assets=A, hidden=(8,), activation=activation)
    assert cross(x).shape == (B, A)


def test_dense_per_asset_is_shared_and_equivariant(x):
    torch.manual_seed(0)
    dense = Dense(C, L, 3, hidden=(8,)).eval()
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(dense(x[:, :, perm]), dense(x)[:, :, perm])
    # the same MLP applied to one asset's flattened window
    alone = dense.mlp(x[:, :, 1].flatten(1))
    torch.testing.assert_close(dense(x)[:, :, 1], alone)


def test_maxout_is_a_max_of_linear_pieces():
    m = Maxout(3, 2, k=4)
    z = torch.randn(7, 3)
    pieces = (z @ m.linear.weight.T + m.linear.bias).reshape(7, 2, 4)
    torch.testing.assert_close(m(z), pieces.max(-1).values)


@pytest.mark.parametrize(
    ("padding", "dilation", "out_len"), [("same", 1, L), ("valid", 1, L - 2), (1, 2, L - 2)]
)
def test_asset_conv_shapes_and_no_mixing(x, padding, dilation, out_len):
    torch.manual_seed(0)
    conv = AssetConv(C, 6, 3, padding=padding, dilation=dilation)
    out = conv(x)
    assert out.shape == (B, 6, A, out_len)
    bumped = x.clone()
    bumped[:, :, 0] += 10.0
    changed = (conv(bumped) - out).abs().amax((0, 1, 3))
    assert changed[0] > 0 and (changed[1:] == 0).all()  # assets never mix
    pooled = AssetConv(C, 6, 3, padding=padding, dilation=dilation, pool="avg")
    pooled.conv = conv.conv
    torch.testing.assert_close(pooled(x), out.mean(1, keepdim=True))
    assert_grads(conv, out)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_asset_rnn_equals_a_loop_over_assets(x, cell, layers, bidirectional):
    torch.manual_seed(0)
    block = AssetRNN(C, 7, cell=cell, num_layers=layers, bidirectional=bidirectional)
    out = block(x)
    assert out.shape == (B, 7 * (2 if bidirectional else 1), A, L)
    for a in range(A):
        ref, _ = block.rnn(x[:, :, a].transpose(1, 2))  # (batch, time, hidden)
        torch.testing.assert_close(out[:, :, a], ref.transpose(1, 2))
    assert_grads(block, out)


def test_time_pooling(x):
    torch.testing.assert_close(TimePool("last")(x), x[..., -1])
    torch.testing.assert_close(TimePool("mean")(x), x.mean(-1))
    torch.testing.assert_close(TimePool("max")(x), x.amax(-1))
    attn = TimePool("attention", n_channels=C)
    out = attn(x)
    assert out.shape == (B, C, A)
    # a convex combination over time stays between the min and the max
    assert (out <= x.amax(-1) + 1e-6).all() and (out >= x.amin(-1) - 1e-6).all()
    decay = TimePool("exp_decay", initial_rate=0.2)
    age = torch.arange(L - 1, -1, -1.0)
    weights = torch.exp(-0.2 * age) / torch.exp(-0.2 * age).sum()
    torch.testing.assert_close(decay(x), (x * weights).sum(-1))
    decay(x).sum().backward()
    assert decay.raw_rate.grad is not None and decay.raw_rate.grad.abs() > 0


def test_instance_norm_and_cross_asset_attention(x):
    normed = InstanceNorm(C, affine=True)(x)
    torch.testing.assert_close(normed.mean(-1), torch.zeros(B, C, A), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.std(-1, correction=0), torch.ones(B, C, A), atol=1e-3, rtol=0)
    torch.manual_seed(0)
    attn = CrossAssetAttention(C, d_model=8, n_heads=2).eval()
    feats = x[..., -1]
    out = attn(feats)
    assert out.shape == (B, 8, A)
    perm = torch.tensor([1, 4, 0, 3, 2])
    torch.testing.assert_close(attn(feats[:, :, perm]), out[:, :, perm], atol=1e-5, rtol=1e-5)
    assert attn(torch.randn(2, C, 9)).shape == (2, 8, 9)
