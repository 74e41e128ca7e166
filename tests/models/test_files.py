"""Model files: every ready network and allocator round-trips, loading is safe, and a
model refuses data without its assets."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

import deepalloc
from deepalloc.data import StandardScaler, make_windows, prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.models import ModelFileError, holding_date, latest_weights, load, save
from deepalloc.models import files as model_files
from deepalloc.training import predict
from tests.allocators.test_contract import SPECS
from tests.allocators.test_trading_costs import COST_SPECS
from tests.networks.test_ready import NETWORKS


@pytest.fixture(scope="module")
def returns():
    return prices_to_returns(load_sp500().loc["2020-01-01":"2021-06-30"])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_ready_network_round_trips(name, returns, tmp_path):
    torch.manual_seed(0)
    network = NETWORKS[name]()
    with torch.no_grad():  # weights that differ from a fresh initialisation
        for p in network.parameters():
            p.add_(0.01 * torch.randn_like(p))
    windows = make_windows(returns, lookback=40, horizon=0)
    path = save(network, tmp_path / f"{name}.pt", windows=windows, metadata={"trained": "2020"})
    loaded = load(path)
    assert type(loaded.network) is type(network)
    assert loaded.lookback == 40 and loaded.assets == list(returns.columns)
    assert loaded.metadata == {"trained": "2020"} and loaded.version == deepalloc.__version__
    pd.testing.assert_frame_equal(
        predict(loaded.network, windows), predict(network, windows), check_exact=True
    )


def test_a_network_that_predicts_its_cost_rate_round_trips(returns, tmp_path):
    from deepalloc.allocators import MarkowitzAllocator
    from deepalloc.networks import TCNMarkowitzNet

    torch.manual_seed(0)
    allocator = MarkowitzAllocator(max_weight=0.5, trading_cost="proportional", kappa=0.002)
    network = TCNMarkowitzNet(1, allocator=allocator, holdings_aware=True, predict_kappa=True)
    with torch.no_grad():  # a rate head that differs from its zero initialisation
        network.head.cost_rates.logit.weight.normal_()
    windows = make_windows(returns, lookback=40, horizon=0)
    loaded = load(save(network, tmp_path / "costs.pt", windows=windows)).network
    assert loaded.head.cost_rates is not None
    x = windows.x[-8:]
    held = torch.full((8, x.shape[2]), 1.0 / x.shape[2])
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(x, previous_weights=held), network(x, previous_weights=held), rtol=0, atol=0
        )


@pytest.mark.parametrize("spec", SPECS + COST_SPECS, ids=lambda s: s.name)
def test_every_allocator_round_trips(spec, tmp_path):
    torch.manual_seed(0)
    allocator = spec.make()
    inputs = spec.inputs(6, 0, torch.float64)
    with torch.no_grad():
        for p in allocator.parameters():
            p.add_(0.1)
    save(allocator, tmp_path / "a.pt", lookback=1, assets=[f"a{i}" for i in range(5)])
    again = load(tmp_path / "a.pt").network
    torch.testing.assert_close(again(*inputs), allocator(*inputs), rtol=0, atol=0)


def test_the_scaler_travels_with_the_model(returns, tmp_path):
    windows = make_windows(returns, lookback=20, horizon=5)
    scaler = StandardScaler(per_asset=True).fit(windows, range(100))
    torch.manual_seed(0)
    network = NETWORKS["dense"]().__class__(1, 20)
    save(network, tmp_path / "m.pt", windows=windows, scaler=scaler)
    loaded = load(tmp_path / "m.pt")
    torch.testing.assert_close(loaded.scaler.center_, scaler.center_)
    # the last window alone, a batch of one as latest_weights decides it (a larger batch
    # may take another BLAS kernel and differ in the last bit)
    last = make_windows(returns.iloc[-20:], lookback=20, horizon=0)
    direct = predict(network, scaler.transform(last))
    assert latest_weights(loaded, returns).equals(direct.iloc[-1].rename(direct.index[-1]))


class Payload:
    """Loading a pickle of this runs code."""

    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_tampered_model_file_is_refused(returns, tmp_path):
    path = save(NETWORKS["dense"](), tmp_path / "m.pt", lookback=40, assets=list(returns.columns))
    content = torch.load(path, weights_only=True)
    content["tensors"]["evil"] = Payload()
    torch.save(content, path)
    with pytest.raises(ModelFileError, match="could run code"):
        load(path)
    assert not (tmp_path / "pwned.txt").exists() and not os.path.exists("pwned.txt")


def test_a_file_naming_an_unknown_class_is_refused_without_importing_it(returns, tmp_path):
    path = save(NETWORKS["dense"](), tmp_path / "m.pt", lookback=40, assets=list(returns.columns))
    content = torch.load(path, weights_only=True)
    header = json.loads(content["header"])
    header["network"]["__object__"] = "subprocess.Popen"
    content["header"] = json.dumps(header)
    torch.save(content, path)
    with pytest.raises(ModelFileError, match="expected a class deepalloc knows, got 'subprocess"):
        load(path)


def test_a_newer_format_is_refused_clearly(returns, tmp_path, monkeypatch):
    monkeypatch.setattr(model_files, "VERSION", model_files.VERSION + 1)
    path = save(NETWORKS["dense"](), tmp_path / "m.pt", lookback=40, assets=list(returns.columns))
    monkeypatch.undo()
    with pytest.raises(ModelFileError, match="written by a newer deepalloc"):
        load(path)


def test_a_model_of_20_assets_names_the_missing_one(returns, tmp_path):
    path = save(NETWORKS["lstm"](), tmp_path / "m.pt", lookback=40, assets=list(returns.columns))
    model = load(path)
    with pytest.raises(ValueError, match=r"expected the 20 assets .* got 19 without \['KO'\]"):
        latest_weights(model, returns.drop(columns="KO"))
    with pytest.raises(ValueError, match="expected at least the model's lookback of 40 dates"):
        latest_weights(model, returns.iloc[:30])
    with pytest.raises(ValueError, match="date: expected a date of the returns"):
        latest_weights(model, returns, date="1999-01-04")
    # extra columns are ignored, other orders are fine
    shuffled = returns[list(reversed(returns.columns))].assign(EXTRA=0.0)
    pd.testing.assert_series_equal(latest_weights(model, shuffled), latest_weights(model, returns))
    assert holding_date(pd.Timestamp("2021-06-25")) == pd.Timestamp("2021-06-28")  # a Friday


def test_objects_a_file_cannot_hold_are_refused_at_save(tmp_path):
    from deepalloc.allocators import SoftmaxAllocator
    from deepalloc.networks import AllocationNetwork, ScoreHead

    custom = AllocationNetwork(torch.nn.Identity(), ScoreHead(1, SoftmaxAllocator()))
    with pytest.raises(ModelFileError, match="network.body: expected constructor arguments"):
        save(custom, tmp_path / "m.pt", lookback=5, assets=["a"])
    with pytest.raises(ModelFileError, match="network: expected a deepalloc network"):
        save(torch.nn.Linear(2, 2), tmp_path / "m.pt", lookback=5, assets=["a"])


def test_a_holdings_aware_model_decides_from_the_holdings_given(returns, tmp_path):
    from deepalloc.networks import DenseNet

    torch.manual_seed(0)
    network = DenseNet(1, 40, holdings_aware=True)
    model = load(save(network, tmp_path / "m.pt", lookback=40, assets=list(returns.columns)))
    assert model.network.holdings_aware
    held = pd.Series({"AAPL": 0.6, "KO": 0.4})
    from_cash = latest_weights(model, returns)
    from_held = latest_weights(model, returns, holdings=held)
    assert not np.allclose(from_cash, from_held)
    x = make_windows(returns.iloc[-40:], lookback=40, horizon=0).x
    prev = torch.tensor(held.reindex(returns.columns, fill_value=0.0).to_numpy()).float()[None]
    with torch.no_grad():
        direct = network.eval()(x, previous_weights=prev)[0].numpy()
    np.testing.assert_allclose(from_held.to_numpy(), direct, rtol=0, atol=1e-7)
    with pytest.raises(
        ValueError, match=r"holdings: expected assets of the model, got unknown \['XYZ'\]"
    ):
        latest_weights(model, returns, holdings=pd.Series({"XYZ": 1.0}))
