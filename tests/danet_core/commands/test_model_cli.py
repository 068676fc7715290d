"""`danet import-checkpoint` and `danet predict` end to end on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from danet_core.checkpoints import load_model, save_checkpoint
from danet_core.cli import main
from danet_core.models import get_model

# native -> official key prefixes (the inverse of danet_core.models.convert.OFFICIAL_RULES)
TO_OFFICIAL = {
    "backbone.": "pretrained.", "head.pam_in.": "head.conv5a.", "head.cam_in.": "head.conv5c.",
    "head.pam.query.": "head.sa.query_conv.", "head.pam.key.": "head.sa.key_conv.",
    "head.pam.value.": "head.sa.value_conv.", "head.pam.gamma": "head.sa.gamma",
    "head.cam.gamma": "head.sc.gamma",
    "head.pam_out.": "head.conv51.", "head.cam_out.": "head.conv52.", "head.pam_cls.": "head.conv6.",
    "head.cam_cls.": "head.conv7.", "head.cls.": "head.conv8.",
}  # fmt: skip


def _official_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in model.state_dict().items():
        prefix = next(p for p in TO_OFFICIAL if k.startswith(p))
        out[TO_OFFICIAL[prefix] + k[len(prefix) :]] = v
    return out


@pytest.fixture(scope="module")
def model(make_danet):
    return make_danet(3, pam=0.5, cls_scale=10)


def test_import_checkpoint_writes_an_equivalent_native_checkpoint(tmp_path, model, capsys):
    # what the official code computes with these weights: its BasicBlock dilates conv2 by the stage's dilation
    official = get_model("danet", depth=18, num_classes=3, basic_conv2_dilation="stage").eval()
    official.load_state_dict(model.state_dict())
    torch.save({"state_dict": _official_state(model)}, tmp_path / "official.pth")
    rc = main(["import-checkpoint", "--source", "official", "--no-multi-grid", "--label-set", "camvid",
               str(tmp_path / "official.pth"), str(tmp_path / "native.pt")])  # fmt: skip
    assert rc == 1  # camvid names 11 classes, the weights have 3
    assert "11 classes given for a model with 3 outputs" in capsys.readouterr().err
    rc = main(
        ["import-checkpoint", "--no-multi-grid", str(tmp_path / "official.pth"), str(tmp_path / "native.pt")]
    )
    assert rc == 0 and "official DANet-R18" in capsys.readouterr().out
    native = load_model(tmp_path / "native.pt", source="native")
    assert native.meta.config.align_corners is True and native.meta.config.multi_grid is None
    assert native.meta.config.basic_conv2_dilation == "stage"
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.allclose(native(x)["out"], official(x)["out"], atol=1e-5)


def test_predict_folder_writes_labels_confidence_and_colour(tmp_path, model, caplog):
    classes = [
        {"name": n, "color": c, "train_id": i}
        for i, (n, c) in enumerate([("a", [255, 0, 0]), ("b", [0, 255, 0]), ("c", [0, 0, 255])])
    ]
    save_checkpoint(tmp_path / "m.pt", model, classes=classes, mean=(0.5,) * 3, std=(0.25,) * 3)
    src = tmp_path / "images"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)).save(src / "one.png")
    Image.fromarray(rng.integers(0, 256, (25, 20, 3), dtype=np.uint8)).save(src / "sub" / "two.jpg")
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "out"
    rc = main(["predict", "-c", str(tmp_path / "m.pt"), "-o", str(out), "--color", "--mode", "slide",
               "--crop", "16,16", str(src)])  # fmt: skip
    assert rc == 1  # broken.png reported and skipped; the others written
    assert "broken.png" in caplog.text
    label = np.asarray(Image.open(out / "one.png"))
    assert label.shape == (30, 41) and label.dtype == np.uint8 and label.max() < 3
    conf = np.asarray(Image.open(out / "one_confidence.png"))
    assert conf.shape == (30, 41) and conf.min() >= 65535 // 3 - 1
    colour = Image.open(out / "sub" / "two_color.png").convert("RGB")
    two = np.asarray(Image.open(out / "sub" / "two.png"))
    palette = np.array([c["color"] for c in classes], np.uint8)
    assert np.array_equal(np.asarray(colour), palette[two])
    assert not (out / "broken.png").exists()


def test_predict_list_file_and_clear_errors(tmp_path, model, capsys):
    save_checkpoint(tmp_path / "m.pt", model, classes=[{"name": f"c{i}", "color": [i] * 3} for i in range(3)],
                    mean=(0.5,) * 3, std=(0.25,) * 3)  # fmt: skip
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "gray.png")
    (tmp_path / "list.txt").write_text("# images\ngray.png\n")
    rc = main(["predict", "-c", str(tmp_path / "m.pt"), "-o", str(tmp_path / "o"), "--no-confidence",
               "--precision", "bf16", str(tmp_path / "list.txt")])  # fmt: skip
    assert rc == 0 and (tmp_path / "o" / "gray.png").exists()
    assert not (tmp_path / "o" / "gray_confidence.png").exists()
    rc = main(
        ["predict", "-c", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "o"), str(tmp_path / "gray.png")]
    )
    assert rc == 1 and "nope.pt: no such checkpoint file" in capsys.readouterr().err
    rc = main(["predict", "-c", str(tmp_path / "m.pt"), "-o", str(tmp_path / "o"), str(tmp_path / "missing")])
    assert rc == 1 and "not an image file, folder or .txt list" in capsys.readouterr().err
