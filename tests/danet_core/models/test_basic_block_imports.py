"""ResNet-18 DANets of mmseg and the official code import exactly (their BasicBlocks dilate differently)."""

from __future__ import annotations

import pytest
import torch
from reference_danets import RefDANet18, randomise

from danet_core.checkpoints import CheckpointError, load_model


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(1, 3, 64, 72, generator=torch.Generator().manual_seed(5))


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize(("layout", "multi_grid", "expected_rule"), [
    ("mmseg", None, "none"), ("mmseg", (1, 2), "none"),
    ("official", None, "stage"), ("official", (4, 8), "stage"),
])  # fmt: skip
def test_basic_block_layouts_import_exactly(tmp_path, x, layout, multi_grid, expected_rule):
    ref = randomise(RefDANet18(layout, multi_grid=multi_grid), seed=7)
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "r18.pth")
    model = load_model(tmp_path / "r18.pth", source=layout, multi_grid=multi_grid)
    assert model.meta.config.depth == 18 and model.meta.config.basic_conv2_dilation == expected_rule
    with torch.no_grad():
        expected, out = ref(x), model(x)
        for e, key in zip(expected, ("out", "pam", "cam"), strict=True):
            assert _max_rel(out[key], e) <= 1e-5, key
        # the rule matters: this project's own BasicBlock ("block") computes something else
        other = load_model(tmp_path / "r18.pth", source=layout, multi_grid=multi_grid,
                           basic_conv2_dilation="block")  # fmt: skip
        assert _max_rel(other(x)["out"], expected[0]) > 1e-2


def test_mmseg_multi_grid_needs_one_dilation_per_block(tmp_path):
    ref = randomise(RefDANet18("mmseg"), seed=1)
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "r18.pth")
    with pytest.raises(CheckpointError, match=r"mmseg needs one dilation per layer4 block \(2 values\)"):
        load_model(tmp_path / "r18.pth", source="mmseg", multi_grid=(1, 2, 4))
