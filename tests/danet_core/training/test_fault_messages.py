"""Issue 13 regressions in training and checkpoints: typed config values (D09), implausible learning
rates (D14), a failed last save that names its file and still ends the log (D16), and a pickle
refusal that never repeats torch's advice to load with weights_only=False (D16)."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest
import yaml

from danet_core.checkpoints import CheckpointError, load_checkpoint
from danet_core.training import ConfigError, TrainConfig
from danet_core.training.config import parse_set_option
from danet_core.training.layout import RunLayout, read_metrics
from tests.danet_core.training.train_helpers import make_folder_dataset, tiny_config


def test_unambiguous_values_are_coerced_and_the_rest_refused_by_name() -> None:
    assert yaml.safe_load("lr: 1e-3") == {"lr": "1e-3"}  # why coercion is needed at all
    cfg = TrainConfig.from_dict({"data_root": "x", "lr": "1e-3", "crop_size": 256, "max_iters": 10.0})
    assert cfg.lr == 0.001 and cfg.crop_size == (256, 256) and cfg.max_iters == 10
    for text, expected in (("lr=abc", "expected a number"), ("batch_size=two", "expected an integer")):
        key, value = parse_set_option(text)
        with pytest.raises(ConfigError, match=f"config value {key}=.*{expected}"):
            TrainConfig.from_dict({"data_root": "x", key: value})
    with pytest.raises(ConfigError, match="expected true or false"):
        TrainConfig.from_dict({"data_root": "x", "hflip": "yes"})


def test_an_implausible_learning_rate_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"lr=1000000.0: expected 0 < lr <= 1"):
        TrainConfig(data_root="x", lr=1e6).validate()


def test_a_failed_last_save_names_the_file_and_ends_the_log(tmp_path: Path, monkeypatch) -> None:
    import danet_core.checkpoints as ck
    from danet_core.training import train

    root = make_folder_dataset(tmp_path / "data", n_train=2, n_val=0)
    cfg = tiny_config(root, tmp_path / "run", max_iters=1)

    def full_disk(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ck, "save_checkpoint", full_disk)
    with pytest.raises(OSError, match=r"last\.pt: cannot write the checkpoint \(No space left on device\)"):
        train(cfg)
    ends = [r for r in read_metrics(RunLayout(tmp_path / "run").metrics) if r["type"] == "end"]
    assert len(ends) == 1 and ends[0]["status"] == "failed" and "last.pt" in ends[0]["message"]


class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned",))


def test_refusals_never_advise_weights_only_false(tmp_path: Path) -> None:
    import torch

    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": _Payload()}, evil)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(2048))
    text = tmp_path / "notes.pt"
    text.write_text("just some text\n")
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(pickle.dumps({"a": _Payload()}))
    messages = {}
    for path in (evil, junk, text, legacy):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        messages[path.name] = str(info.value)
    for name, msg in messages.items():
        assert msg.startswith(str(tmp_path / name)) and "weights_only" not in msg, msg
    assert "could run code (posix.system)" in messages["evil.pt"]
    assert "could run code" not in messages["junk.pt"] and "could run code" not in messages["notes.pt"]
