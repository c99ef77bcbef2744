"""The deploy configuration file: the documented example validates; mistakes are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.config import EXAMPLE, ConfigError, load_config


def write(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_example_is_valid_and_uses_an_inference_profile() -> None:
    config, base = load_config(EXAMPLE)
    assert config.model.is_profile and config.model.base_model.startswith("anthropic.")
    assert config.role_arn_template == "arn:aws:iam::{account}:role/rca-readonly"
    assert (base / config.workspace).is_file()
    assert config.watool_writes is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model__id": "claude please"}, "model.id"),
        ({"model__id": "anthropic.claude-3-5-sonnet-20240620-v1:0"}, "model.id"),
        ({"slack__channel": "#incidents"}, "slack.channel"),
        (
            {"investigate": [{"account": "12345", "regions": ["eu-west-1"]}]},
            "investigate.0.account",
        ),
        (
            {"investigate": [{"account": "222222222222", "regions": ["Ireland"]}]},
            "investigate.0.regions",
        ),
        ({"surprise": True}, "surprise"),
        ({"reviews__max_concurrency": 0}, "reviews.max_concurrency"),
        ({"workspace": "ws.txt"}, "file"),
    ],
)
def test_mistakes_name_the_field_in_one_line(tmp_path: Path, changes: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, **changes))
    message = str(info.value)
    assert "\n" not in message and field in message


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_the_app_exits_2_with_one_line_for_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.app import main

    monkeypatch.setenv("RCA_INFRA_CONFIG", str(write(tmp_path, model__id="nope nope")))
    assert main(["--outdir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "model.id" in err[-1]
