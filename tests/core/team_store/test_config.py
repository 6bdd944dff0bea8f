"""When the team store is on, and messages that never carry credentials."""

from __future__ import annotations

import pytest

from mlrecipes.core.manifest import StoreConfig
from mlrecipes.core.team_store._mlflow import safe_reason
from mlrecipes.core.team_store.config import share_settings, unreachable_artifacts


@pytest.mark.parametrize(
    ("share", "uri", "enabled", "on"),
    [
        ("auto", "http://mlflow:5000", True, True),
        ("auto", "https://mlflow.example", True, True),
        ("auto", "sqlite:////tmp/x.db", True, False),
        ("auto", "/tmp/mlruns", True, False),
        ("on", "sqlite:////tmp/x.db", True, True),
        ("off", "http://mlflow:5000", True, False),
        ("auto", "http://mlflow:5000", False, False),  # --no-share
    ],
)
def test_share_settings(share: str, uri: str, enabled: bool, on: bool) -> None:
    config = StoreConfig(share=share, max_size=5)  # type: ignore[arg-type]
    settings = share_settings(config, uri, enabled=enabled)
    assert (settings is not None) == on
    if settings is not None:
        assert settings.max_size == 5


def test_a_server_without_artifact_serving_is_detected() -> None:
    auto = share_settings(StoreConfig(), "http://h:5000", enabled=True)
    assert auto is not None
    assert unreachable_artifacts(auto, "/srv/mlruns/1/abc/artifacts")
    assert unreachable_artifacts(auto, "file:///srv/mlruns/1/abc/artifacts")
    assert not unreachable_artifacts(auto, "mlflow-artifacts:/1/abc/artifacts")
    assert not unreachable_artifacts(auto, "s3://bucket/1/abc/artifacts")
    forced = share_settings(StoreConfig(share="on"), "http://h:5000", enabled=True)
    assert forced is not None and not unreachable_artifacts(forced, "/nfs/mlruns")


def test_reasons_carry_no_credentials() -> None:
    exc = ConnectionError(
        "HTTPSConnectionPool(host='h'): Max retries exceeded with url "
        "https://alice:s3cret@h/api/2.0/mlflow-artifacts/artifacts/x?X-Amz-Signature=abc&k=v "
        "token=tok123\nsecond line"
    )
    text = safe_reason(exc)
    for secret in ("alice", "s3cret", "abc", "tok123", "second line"):
        assert secret not in text
    assert "https://h/api/2.0/mlflow-artifacts/artifacts/x?***" in text
