"""TrainConfig: files, overrides, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from danet_core.training import ConfigError, TrainConfig
from danet_core.training.config import parse_set_option


def test_yaml_and_json_round_trip(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("dataset: cityscapes\ndata_root: /d\ncrop_size: 256\nmodel_options: {depth: 18}\nlr: 0.02\n")
    cfg = TrainConfig.load(y)
    assert cfg.crop_size == (256, 256) and cfg.model_options == {"depth": 18} and cfg.lr == 0.02
    j = tmp_path / "c.json"
    cfg.save_json(j)
    again = TrainConfig.load(j)
    assert again == cfg
    assert json.loads(j.read_text())["crop_size"] == [256, 256]


def test_unknown_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("batchsize: 4\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown key 'batchsize'; did you mean 'batch_size'"):
        TrainConfig.load(f)


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        TrainConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="bad.json: not valid JSON"):
        TrainConfig.load(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        TrainConfig.load(lst)


def test_overrides_win_and_merge_model_options() -> None:
    cfg = TrainConfig(data_root="/d", model_options={"depth": 50, "aux": True})
    out = cfg.with_overrides(
        {"lr": 0.5, "batch_size": None, "model_options": {"depth": 18}}, nulls=["val_split"]
    )
    assert out.lr == 0.5 and out.batch_size == cfg.batch_size
    assert out.model_options == {"depth": 18, "aux": True}
    assert out.val_split is None
    assert cfg.lr == 0.01  # the original is untouched


def test_validate_names_the_bad_value() -> None:
    with pytest.raises(ConfigError, match=r"dataset='coco'"):
        TrainConfig(dataset="coco", data_root="/d").validate()
    with pytest.raises(ConfigError, match=r"scale_range"):
        TrainConfig(data_root="/d", scale_range=(2.0, 0.5)).validate()
    with pytest.raises(ConfigError, match=r"data_root"):
        TrainConfig().validate()
    with pytest.raises(ConfigError, match="expected true or false"):
        TrainConfig.from_dict({"hflip": "yes"})


def test_set_option_parses_yaml_values() -> None:
    assert parse_set_option("lr=0.1") == ("lr", 0.1)
    assert parse_set_option("crop_size=[64, 96]") == ("crop_size", [64, 96])
    assert parse_set_option("val_split=null") == ("val_split", None)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set_option("lr")
