"""danet_core.options: the one owner of inference option names, "auto" device resolution and
PredictOptions, shared by the Predictor, the training config, the CLI and the app settings."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import pytest

from danet_core.options import (
    DEFAULT_SCALES,
    MODES,
    PRECISIONS,
    PredictOptions,
    add_predict_arguments,
    predict_options_from_args,
    resolve_device,
)


def test_defaults_and_derived_stride() -> None:
    o = PredictOptions()
    assert (o.device, o.precision, o.mode, o.crop, o.flip) == ("auto", "fp32", "whole", (512, 1024), False)
    assert o.stride == (341, 682)  # 2/3 of the crop
    assert o.scales == DEFAULT_SCALES
    square = PredictOptions(mode="slide", crop=300)
    assert square.crop == (300, 300) and square.stride == (200, 200)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"precision": "int8"}, "precision 'int8'"),
        ({"mode": "tiles"}, "inference mode 'tiles'"),
        ({"mode": "slide", "crop": None}, "needs a crop"),
        ({"scales": ()}, "scales"),
        ({"scales": (1.0, -2.0)}, "scales"),
        ({"crop": (0, 10)}, "crop"),
    ],
)
def test_bad_values_name_the_option(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PredictOptions(**changes)


def test_replace_and_dict_round_trip() -> None:
    o = PredictOptions(device="cpu", mode="multiscale", scales=[0.5, 1], flip=True, crop=None)
    assert o.scales == (0.5, 1.0) and o.crop is None and o.stride is None
    assert PredictOptions.from_dict(o.to_dict()) == o
    assert o.replace(flip=False).flip is False and o.flip is True
    with pytest.raises(ValueError, match="unknown inference options \\['tile'\\]"):
        PredictOptions.from_dict({"tile": 3})
    with pytest.raises(TypeError):
        o.replace(tile=3)


def test_resolve_device_auto_cpu_and_missing_cuda(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match="device 'gpu0'"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"  # the old app comparison turned "auto" into CPU here


def test_command_line_flags_build_the_same_options() -> None:
    parser = argparse.ArgumentParser()
    add_predict_arguments(parser)
    args = parser.parse_args(
        ["--mode", "slide", "--crop", "256,512", "--precision", "bf16", "--device", "cpu"]
    )
    o = predict_options_from_args(args)
    assert o == PredictOptions(device="cpu", precision="bf16", mode="slide", crop=(256, 512))
    whole = predict_options_from_args(parser.parse_args([]))
    assert whole.mode == "whole" and whole.crop is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--precision", "fp8"])
    assert set(PRECISIONS) == {"fp32", "bf16", "fp16"} and MODES == ("whole", "slide", "multiscale")


def test_shared_contracts_import_without_torch() -> None:
    """The app reads these at start-up on the GUI thread (and app.model is imported there): none of them
    may import torch."""
    script = textwrap.dedent(
        """
        import sys

        class _NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "torchvision"):
                    raise ImportError(f"{name} blocked")
                return None

        sys.meta_path.insert(0, _NoTorch())
        import importlib, pkgutil
        import danet_core.options, danet_core.training, danet_core.training.layout
        import danet_core.training.config, danet_core.training.metrics, danet_core.project
        import danet_core.formats, danet_core.commands.model, danet_core.commands.train
        from danet_core.training import TrainConfig, ConfusionMatrix
        TrainConfig(data_root="x").predict_options()
        import app.model
        for info in pkgutil.walk_packages(app.model.__path__, "app.model."):
            importlib.import_module(info.name)
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
