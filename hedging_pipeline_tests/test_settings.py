
import pytest

from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.settings import DEFAULT_EMBEDDING_MODEL, load_settings


def test_env_overrides(tmp_path):
    s = load_settings(
        {
            "HEDGING_RAW_DIR": str(tmp_path),
            "HEDGING_HOME": str(tmp_path / "h"),
            "HEDGING_DEVICE": "CUDA",
            "HEDGING_BACKTEST_MONTHS": "12",
        }
    )
    assert (s.raw_dir, s.raw_source, s.device, s.backtest_months) == (tmp_path, "env", "cuda", 12)
    assert s.warehouse_path == tmp_path / "h" / "warehouse.duckdb"
    assert s.dagster_home == tmp_path / "h" / "dagster"
    assert s.embedding_model == DEFAULT_EMBEDDING_MODEL
    assert "HEDGING_RAW_DIR" in s.describe_raw_source()


def test_default_raw_dir_is_shared_or_demo():
    s = load_settings({})
    assert s.raw_source in {"shared", "demo"}
    assert s.raw_dir.name in {"data", "demo"}


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("HEDGING_DEVICE", "tpu", "HEDGING_DEVICE='tpu' is not one of"),
        ("HEDGING_BACKTEST_MONTHS", "two", "HEDGING_BACKTEST_MONTHS='two' is not an integer"),
        ("HEDGING_BACKTEST_MONTHS", "0", "must be at least 1"),
    ],
)
def test_invalid_settings(key, value, match):
    with pytest.raises(ConfigurationError, match=match):
        load_settings({key: value})
