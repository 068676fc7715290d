"""`danet export-model` in ONNX Runtime on CPU: same logits as PyTorch at other sizes, metadata."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from danet_core.checkpoints import load_model, save_checkpoint
from danet_core.cli import main
from danet_core.onnx_export import REL_TOL, OnnxExportError, export_onnx

ort = pytest.importorskip("onnxruntime", reason='onnxruntime is an optional extra: pip install -e ".[onnx]"')
onnx = pytest.importorskip("onnx", reason='onnx is an optional extra: pip install -e ".[onnx]"')


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, make_danet):
    model = make_danet(3, pam=0.5, cam=0.3, cls_scale=10)  # logits of a trained model's scale
    named = [("road", [128, 64, 128]), ("car", [0, 0, 142]), ("sky", [70, 130, 180])]
    classes = [{"name": n, "color": c, "train_id": i} for i, (n, c) in enumerate(named)]
    path = tmp_path_factory.mktemp("onnx") / "m.pt"
    save_checkpoint(path, model, classes=classes, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    return path


def test_export_model_matches_pytorch_at_a_size_it_was_not_traced_at(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export-model", str(checkpoint), str(out)]) == 0
    assert "checked 64x96 in ONNX Runtime" in capsys.readouterr().out
    graph = onnx.load(str(out))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["class_names"]) == ["road", "car", "sky"]
    assert json.loads(meta["class_colors"])[1] == [0, 0, 142]
    assert json.loads(meta["mean"]) == pytest.approx([0.5, 0.4, 0.3]) and json.loads(meta["std"])[2] == 0.3
    assert json.loads(meta["model_config"])["depth"] == 18
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    model = load_model(checkpoint)
    x = torch.randn(2, 3, 53, 77, generator=torch.Generator().manual_seed(1))  # odd size, batch 2
    with torch.no_grad():
        ref = model(x)["out"].numpy()
    got = session.run(None, {"input": x.numpy()})[0]
    assert got.shape == ref.shape == (2, 3, 53, 77)
    scale = np.abs(ref).max()
    assert scale > 2  # not a degenerate comparison
    assert np.abs(got - ref).max() <= REL_TOL * max(1.0, scale)


def test_export_leaves_the_model_in_eval_mode_unlike_a_plain_export(checkpoint, tmp_path):
    model = load_model(checkpoint)
    export_onnx(model, tmp_path / "a.onnx")
    assert model.training is False and model.config.pam_impl == "efficient"

    class Wrapper(torch.nn.Module):  # the plain export that measured a max abs diff of 18.7
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)["out"]

    torch.onnx.export(Wrapper(model), (torch.zeros(1, 3, 32, 32),), str(tmp_path / "b.onnx"), dynamo=False)
    assert model.training is True  # the exporter restored the wrapper's (training) mode recursively


def test_clear_errors(checkpoint, tmp_path, capsys, monkeypatch):
    assert main(["export-model", str(checkpoint), str(tmp_path / "m.pt")]) == 1
    assert "expected an output file name ending in .onnx" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(OnnxExportError, match=r'pip install -e "\.\[onnx\]"'):
        export_onnx(load_model(checkpoint), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
