import pandas as pd
import pytest

from deepalloc.datasets import load_factor_etfs, load_sp500, read_prices
from tests.conftest import SHARED_DATA


def test_bundled_sp500_has_its_documented_shape():
    prices = load_sp500()
    assert prices.shape == (8313, 20)
    assert prices.index[0] == pd.Timestamp("1990-01-02")


@pytest.mark.parametrize(
    ("loader", "name"),
    [(load_sp500, "sp500_prices.csv.gz"), (load_factor_etfs, "factor_etf_prices.csv.gz")],
)
def test_bundled_data_equals_the_shared_data(loader, name):
    shared = SHARED_DATA / name
    if not shared.exists():
        pytest.skip(f"the shared data folder is absent here: no {shared} to compare with")
    pd.testing.assert_frame_equal(loader(), pd.read_csv(shared, index_col="date", parse_dates=True))


def test_factor_etfs():
    prices = load_factor_etfs()
    assert list(prices.columns) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert prices.shape == (2264, 5)


def test_read_prices_validates(tmp_path, prices_frame):
    good = tmp_path / "p.csv"
    prices_frame.to_csv(good)
    pd.testing.assert_frame_equal(read_prices(good), prices_frame, check_freq=False)
    bad = prices_frame.copy()
    bad.iloc[3, 2] = -1.0
    bad.to_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="strictly positive prices, got -1.0 in column 'a2'"):
        read_prices(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match="expected an existing file"):
        read_prices(tmp_path / "missing.csv")
