"""Temporal convolution blocks: causal, shared across assets, differentiable."""

import pytest
import torch

from deepalloc.layers import CausalConv, LastStepTCN, TemporalBlock, TemporalConvNet

B, C, A, T = 3, 2, 5, 30


@pytest.fixture
def x():
    return torch.randn(B, C, A, T, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def tcn(**kw):
    torch.manual_seed(0)
    return TemporalConvNet(C, (4, 6, 6), kernel_size=3, **kw).double().eval()


@pytest.mark.parametrize("t", [0, 7, 18, T - 2])
def test_an_output_never_reads_later_inputs(x, t):
    net = tcn()
    later = x.clone()
    later[..., t + 1 :] = torch.randn(B, C, A, T - t - 1, dtype=torch.float64) * 10
    torch.testing.assert_close(net(later)[..., : t + 1], net(x)[..., : t + 1], rtol=0, atol=0)
    assert not torch.allclose(net(later)[..., t + 1 :], net(x)[..., t + 1 :])


def test_the_receptive_field_is_as_stated(x):
    net = tcn()
    assert net.receptive_field == 1 + 2 * 2 * (1 + 2 + 4)  # 29 steps
    # the last output reads the last 29 steps and nothing before them
    early = x.clone()
    early[..., : T - net.receptive_field] += 5.0
    torch.testing.assert_close(net(early)[..., -1], net(x)[..., -1], rtol=0, atol=0)
    just_inside = x.clone()
    just_inside[..., T - net.receptive_field] += 5.0
    assert not torch.allclose(net(just_inside)[..., -1], net(x)[..., -1])


def test_assets_share_kernels_and_permute(x):
    net = tcn()
    out = net(x)
    assert out.shape == (B, 6, A, T)
    perm = torch.tensor([3, 0, 4, 2, 1])
    torch.testing.assert_close(net(x[:, :, perm]), out[:, :, perm], rtol=0, atol=1e-12)
    # one asset alone gives the same output as within the panel
    torch.testing.assert_close(net(x[:, :, 2:3])[:, :, 0], out[:, :, 2], rtol=0, atol=1e-12)


def test_a_causal_convolution_is_a_left_padded_convolution():
    torch.manual_seed(1)
    conv = CausalConv(2, 3, kernel_size=3, dilation=2).double()
    series = torch.randn(4, 2, 11, dtype=torch.float64)
    w, b = conv.conv.weight, conv.conv.bias
    expected = torch.zeros(4, 3, 11, dtype=torch.float64)
    for t in range(11):
        for k in range(3):
            lag = t - (2 - k) * 2  # kernel tap k reads the input (2 - k) * dilation steps back
            if lag >= 0:
                expected[:, :, t] += series[:, :, lag] @ w[:, :, k].T
    torch.testing.assert_close(conv(series), expected + b[None, :, None])


def test_gradcheck_on_a_small_block():
    torch.manual_seed(2)
    block = TemporalBlock(2, 3, kernel_size=2, dilation=2).double()
    series = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (series,))
    params = tuple(block.parameters())
    assert torch.autograd.gradcheck(
        lambda *ps: torch.func.functional_call(
            block, dict(zip(dict(block.named_parameters()), ps)), (series,)
        ),
        params,
    )


@pytest.mark.parametrize("kernel_size", [2, 3, 5])
@pytest.mark.parametrize("channels", [(4, 6, 6), (3,), (4, 4, 4, 4, 4)])
@pytest.mark.parametrize("t", [1, 2, 7, 30, 64])
def test_the_last_step_path_equals_the_full_output_at_the_last_step(kernel_size, channels, t):
    # every lookback parity, shorter and longer than the receptive field, with and
    # without a skip convolution; the full path is checked against a hand-written
    # convolution above
    torch.manual_seed(3)
    net = TemporalConvNet(C, channels, kernel_size=kernel_size).double()
    x = torch.randn(B, C, A, t, dtype=torch.float64, requires_grad=True)
    full, last = net(x)[..., -1], net.forward_last(x)
    assert last.shape == (B, channels[-1], A)
    torch.testing.assert_close(last, full, rtol=0, atol=1e-12)
    cot = torch.randn_like(full)
    grads_full = torch.autograd.grad((full * cot).sum(), (x, *net.parameters()))
    grads_last = torch.autograd.grad((last * cot).sum(), (x, *net.parameters()))
    for g_last, g_full in zip(grads_last, grads_full):
        torch.testing.assert_close(g_last, g_full, rtol=0, atol=1e-12)


def test_the_last_step_network_shares_the_full_one_s_parameters(x):
    full = tcn()
    last = LastStepTCN(C, (4, 6, 6), kernel_size=3).double().eval()
    last.load_state_dict(full.state_dict())
    torch.testing.assert_close(last(x), full(x)[..., -1], rtol=0, atol=1e-12)


def test_bad_settings():
    with pytest.raises(ValueError, match="channels: expected at least one block"):
        TemporalConvNet(2, ())
    with pytest.raises(ValueError, match="kernel_size: expected a positive integer"):
        TemporalConvNet(2, (4,), kernel_size=0)
    with pytest.raises(ValueError, match="x: expected a 4-d tensor"):
        tcn()(torch.zeros(3, 4, 5, dtype=torch.float64))
