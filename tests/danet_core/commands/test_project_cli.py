"""``danet project ...`` and ``danet export ...`` through the real dispatcher (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from danet_core.cli import main


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.zeros((12, 20, 3), np.uint8)).save(root / name)
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.full((12, 20), 3, np.uint8)).save(masks / "a.png")
    Image.fromarray(np.full((12, 20), 99, np.uint8)).save(masks / "b.png")  # not a CamVid id
    return root


def test_create_import_info_export(tmp_path: Path, capsys) -> None:
    images = _folder(tmp_path)
    proj = tmp_path / "proj"
    assert main(["project", "create", str(proj), str(images), "--labels", "camvid"]) == 0
    assert "2 images" in capsys.readouterr().out
    # one bad mask: exit status 1, the summary names it, the good one is imported
    assert main(["project", "import", str(proj), str(tmp_path / "masks"), "--format", "mask"]) == 1
    out = capsys.readouterr().out
    assert "1 done, 0 skipped, 1 failed" in out and "b.png" in out and "ids [99]" in out
    assert main(["project", "info", str(proj), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["images"]["reviewed"] == 1 and info["label_set"] == "camvid"
    assert (
        main(["export", str(proj), str(tmp_path / "cs"), "--format", "cityscapes", "--mapping", "camvid"])
        == 0
    )
    assert (tmp_path / "cs" / "gtFine/train/images/images_000000_000000_gtFine_labelIds.png").is_file()
    assert main(["export", str(proj), str(tmp_path / "lm"), "--format", "labelme"]) == 0
    assert (tmp_path / "lm" / "a.json").is_file()


def test_refusals_are_one_line(tmp_path: Path, capsys) -> None:
    images = _folder(tmp_path)
    proj = tmp_path / "proj"
    main(["project", "create", str(proj), str(images), "--labels", "camvid"])
    capsys.readouterr()
    assert main(["export", str(proj), str(tmp_path / "cs"), "--format", "cityscapes"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not the Cityscapes set" in err[0]
    assert main(["project", "info", str(tmp_path / "nothing")]) == 1
    assert "not a project folder" in capsys.readouterr().err
