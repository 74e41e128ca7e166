"""The default optimizer: plain Adam's steps, bit for bit."""

import torch

from deepalloc.networks import LSTMMarkowitzNet
from deepalloc.training import DEFAULT_OPTIMIZER


def test_the_default_optimizer_takes_plain_adams_steps_exactly():
    trajectories = []
    for factory in (DEFAULT_OPTIMIZER, lambda p: torch.optim.Adam(p, lr=1e-3)):
        torch.manual_seed(0)
        net = LSTMMarkowitzNet(1, hidden_size=4)
        opt = factory(net.parameters())
        g = torch.Generator().manual_seed(1)
        for step in range(50):
            for p in net.parameters():
                # gradients over several orders of magnitude, as in training
                p.grad = torch.randn(p.shape, generator=g) * 10.0 ** (step % 7 - 3)
            opt.step()
        trajectories.append([p.detach().clone() for p in net.parameters()])
    for mine, plain in zip(*trajectories, strict=True):
        assert torch.equal(mine, plain)
