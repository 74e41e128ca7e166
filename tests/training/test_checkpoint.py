"""Checkpoints: exact resume, atomic writes, safe loading."""

import functools
import os

import pytest
import torch

from deepalloc.data import holdout_split
from deepalloc.losses import SharpeLoss
from deepalloc.networks import StackedLSTMNet
from deepalloc.training import (
    Checkpoint,
    CheckpointError,
    EarlyStopping,
    fit,
    load_checkpoint,
)
from tests.training.conftest import loaders


def train(market, path, epochs, *, resume=False, callbacks=()):
    fold = holdout_split(market, test=0.2, val=0.2)
    torch.manual_seed(0)  # test-only: identical initial weights
    net = StackedLSTMNet(1, hidden_size=8, dropout=0.3).double()
    train_loader, val = loaders(market, fold, batch_size=64)
    result = fit(
        net,
        SharpeLoss(),
        train_loader,
        val_loader=val,
        epochs=epochs,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-2),
        scheduler=functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.9),
        early_stopping=EarlyStopping(patience=100),
        callbacks=[Checkpoint(path, resume=resume), *callbacks],
        seed=3,
        progress=False,
        dtype=torch.float64,
    )
    return net, result


def test_resume_continues_exactly(market, tmp_path):
    straight, full = train(market, tmp_path / "straight.pt", 4)
    train(market, tmp_path / "half.pt", 2)
    resumed, result = train(market, tmp_path / "half.pt", 4, resume=True)
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert result.history.equals(full.history)
    assert result.best_epoch == full.best_epoch


def test_an_interrupted_write_keeps_the_last_good_checkpoint(market, tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    train(market, path, 1)
    good = path.read_bytes()

    def dies_mid_write(obj, file, *args, **kwargs):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        train(market, path, 2)
    assert path.read_bytes() == good  # untouched
    assert os.listdir(tmp_path) == ["ck.pt"]  # no stray temporary file
    assert load_checkpoint(path)["state"]["epoch"] == 1


class Payload:
    """Loading a pickle of this runs code: the classic tampered-file attack."""

    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_tampered_checkpoint_is_refused(market, tmp_path):
    path = tmp_path / "ck.pt"
    train(market, path, 1)
    saved = torch.load(path, weights_only=True)
    saved["state"]["evil"] = Payload()
    with open(path, "wb") as file:
        torch.save(saved, file)
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="could run code"):
        train(market, path, 2, resume=True)
    assert not (tmp_path / "pwned.txt").exists() and not os.path.exists("pwned.txt")


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": {}}, path)
    with pytest.raises(CheckpointError, match="expected a deepalloc-checkpoint file"):
        load_checkpoint(path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
