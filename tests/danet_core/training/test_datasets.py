"""Dataset readers on the real CamVid and Cityscapes samples, and one clear error per bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.images import atomic_save_png, load_mask_png
from danet_core.training import DatasetError, TrainConfig
from danet_core.training.datasets import cityscapes_items, cityscapes_luts, folder_items, folder_luts
from danet_core.training.loaders import build_data, build_split, verify_dataset


def test_camvid_folder_reader_maps_void_to_ignore(camvid_root: Path) -> None:
    cfg = TrainConfig(dataset="folder", data_root=str(camvid_root), label_set="camvid", crop_size=(64, 64))
    data = build_data(cfg)
    assert len(data.train) == 367 and data.val is not None and len(data.val) == 101
    assert data.class_names[0] == "Sky" and data.num_classes == 11
    image, target = data.train.load_raw(0)
    raw = load_mask_png(data.train.items[0].mask)
    assert image.shape == (360, 480, 3) and target.shape == (360, 480)
    assert (target[raw == 11] == 255).all()
    assert (target[raw < 11] == raw[raw < 11]).all()
    img, tgt = data.train[0]
    assert img.shape == (3, 64, 64) and tgt.shape == (64, 64)


def test_cityscapes_label_ids_map_to_the_official_train_ids(cityscapes_sample_root: Path) -> None:
    items, train_ids = cityscapes_items(cityscapes_sample_root, "val")
    assert len(items) == 1 and train_ids  # labelTrainIds present: used directly
    label_ids = load_mask_png(items[0].mask.replace("labelTrainIds", "labelIds"))
    lut, valid, names = cityscapes_luts(train_ids=False)
    assert len(names) == 19 and names[0] == "road" and names[18] == "bicycle"
    assert valid[label_ids].all()
    # the table is the official one (cityscapesScripts, the acceptance oracle)
    from cityscapesscripts.helpers.labels import labels

    for lab in labels:
        if lab.id >= 0:
            assert lut[lab.id] == (255 if lab.trainId in (-1, 255) else lab.trainId), lab.name
    # The sample's labelIds and labelTrainIds were downscaled separately, so 77 of its 32768 pixels
    # disagree along edges; everywhere else the mapping reproduces the shipped train-id file.
    official = load_mask_png(items[0].mask)
    assert (lut[label_ids] == official).mean() > 0.99


def test_cityscapes_dataset_without_train_id_files_reads_label_ids(
    tmp_path: Path, cityscapes_sample_root: Path
) -> None:
    root = tmp_path / "cs"
    shutil.copytree(cityscapes_sample_root, root)
    for f in root.rglob("*_labelTrainIds.png"):
        f.unlink()
    cfg = TrainConfig(
        dataset="cityscapes", data_root=str(root), train_split="val", val_split=None, crop_size=(64, 64)
    )
    data = build_data(cfg)
    _, target = data.train.load_raw(0)
    label_ids = load_mask_png(next(root.rglob("*_labelIds.png")))
    lut, _, _ = cityscapes_luts(train_ids=False)
    np.testing.assert_array_equal(target, lut[label_ids])
    assert data.num_classes == 19


def _cfg(root: Path, **kw) -> TrainConfig:
    return TrainConfig(
        dataset="folder", data_root=str(root), label_set=str(root / "labels.json"), crop_size=(32, 32), **kw
    )


def test_missing_mask_names_the_image(tiny_root: Path) -> None:
    (tiny_root / "trainannot" / "img03.png").unlink()
    with pytest.raises(DatasetError, match=r"train/img03.png: no mask .*trainannot/img03.png"):
        folder_items(tiny_root / "train", tiny_root / "trainannot")


def test_mask_without_image_names_the_mask(tiny_root: Path) -> None:
    (tiny_root / "train" / "img02.png").unlink()
    with pytest.raises(DatasetError, match=r"trainannot/img02.png: mask without an image"):
        build_data(_cfg(tiny_root))


def test_mask_of_another_size_is_refused(tiny_root: Path) -> None:
    atomic_save_png(tiny_root / "trainannot" / "img01.png", np.zeros((10, 10), np.uint8))
    ds = build_split(_cfg(tiny_root), "train", None, train=True)
    with pytest.raises(DatasetError, match=r"img01.png: mask is 10x10 but its image .* is 64x48"):
        verify_dataset(ds)
    with pytest.raises(DatasetError, match="expected the same size"):
        ds.load_raw(1)


def test_ids_outside_the_label_set_are_refused(tiny_root: Path) -> None:
    m = np.zeros((48, 64), np.uint8)
    m[0, 0] = 7
    atomic_save_png(tiny_root / "valannot" / "img00.png", m)
    data = build_data(_cfg(tiny_root))
    with pytest.raises(DatasetError, match=r"valannot/img00.png: mask values \[7\] are not in the label set"):
        verify_dataset(data.val)
    # declared void ids are fine
    lut, valid = folder_luts(_ls(tiny_root), [7])
    assert valid[7] and lut[7] == 255


def _ls(root: Path):
    from danet_core.labels import load_label_set

    return load_label_set(root / "labels.json")


def test_unreadable_image_is_named(tiny_root: Path) -> None:
    (tiny_root / "train" / "img04.png").write_bytes(b"not a png")
    ds = build_split(_cfg(tiny_root), "train", None, train=True)
    with pytest.raises(DatasetError, match=r"img04.png: cannot read image header"):
        verify_dataset(ds)


def test_empty_dataset_is_refused(tmp_path: Path, tiny_root: Path) -> None:
    for f in list((tiny_root / "train").iterdir()) + list((tiny_root / "trainannot").iterdir()):
        f.unlink()
    with pytest.raises(DatasetError, match="no image/mask pairs found"):
        build_data(_cfg(tiny_root))
    with pytest.raises(DatasetError, match="no such folder"):
        build_data(_cfg(tiny_root, train_split="nothing_here"))


def test_crop_much_larger_than_the_images_is_refused_smaller_is_padded(tiny_root: Path) -> None:
    # 64x48 images, scale up to 2.0: a 200x200 crop would be mostly padding
    ds = build_split(_cfg(tiny_root).with_overrides({"crop_size": [200, 200]}), "train", None, train=True)
    with pytest.raises(DatasetError, match=r"img00.png: image is 64x48.*crop 200x200"):
        verify_dataset(ds)
    ok = build_split(_cfg(tiny_root).with_overrides({"crop_size": [80, 80]}), "train", None, train=True)
    verify_dataset(ok)
    _, target = ok[0]
    assert target.shape == (80, 80)


def test_grayscale_mask_png_modes_are_accepted(tiny_root: Path) -> None:
    m = np.asarray(Image.open(tiny_root / "trainannot" / "img00.png"))
    Image.fromarray(m, mode="L").convert("P").save(tiny_root / "trainannot" / "img00.png")
    ds = build_split(_cfg(tiny_root), "train", None, train=True)
    _, target = ds.load_raw(0)
    assert set(np.unique(target)) <= {0, 1, 2, 255}
