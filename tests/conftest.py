"""Shared test fixtures: no network, no ~/.aws, and the optional shared third-party data."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RCA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and empty AWS config files so no test can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def shared(*parts: str) -> Path:
    """Path into ../shared/data; skips the test when that data is absent (a user's clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


@pytest.fixture(autouse=True)
def _rca_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Sessions and reviews go to a per-test folder, never to the user's home."""
    monkeypatch.setenv("RCA_HOME", str(tmp_path / "rca-home"))
    monkeypatch.delenv("RCA_SESSION_TABLE", raising=False)


def load_benchmark(name: str) -> Any:
    """Import ``benchmarks/<name>.py`` as a module (benchmarks are scripts, not a package)."""
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def _capture_aws_requests() -> Any:
    """With ``RCA_CAPTURE_REQUESTS=<file>``, append every AWS request the tests send (service,
    operation, parameters as botocore receives them, Stubber or moto alike) to that JSON-lines
    file; ``benchmarks/validate_requests.py`` checks them against botocore's service models."""
    target = os.environ.get("RCA_CAPTURE_REQUESTS")
    if not target:
        yield
        return
    import json

    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        record = {
            "service": self.meta.service_model.service_name,
            "operation": operation_name,
            "params": api_params,
            "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        }
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=_jsonable) + "\n")
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _jsonable(value: Any) -> Any:
    """Timestamps as ISO strings, bytes as ``{"__bytes__": length}`` (only lengths are checked)."""
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": len(value)}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "read"):
        return {"__stream__": True}
    return str(value)
