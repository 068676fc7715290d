"""(a) Our own corpus of bad inputs, driven through every entry point where it applies: the project API,
the `danet` CLI (create, import, export, predict, train) and the model loader. Each case must give one
clear error naming the file (no traceback), the right exit status, and leave saved data unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from danet_core.checkpoints import CheckpointError, load_model
from danet_core.cli import main
from danet_core.images import ImageReadError, image_size, load_image
from danet_core.project import Project
from tests.faults import corpus

CASES: dict[str, int] = {}  # kind -> cases driven (reported by the last test)


def _one_error_line(err: str, name: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("danet: error:")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert name in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    corpus.good_images(folder)
    return folder


@pytest.fixture
def project(tmp_path: Path, images: Path) -> Project:
    p = Project.create(tmp_path / "proj", images, "camvid")
    for rec in p.images():
        p.save_mask(rec.id, np.full((corpus.H, corpus.W), 2, np.uint8), status="reviewed")
    yield p
    p.close()


def test_images_readable_and_broken(tmp_path: Path) -> None:
    ok = corpus.readable_images(tmp_path / "ok")
    for case, path in ok.items():
        rgb = load_image(path)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, case
        expected = (corpus.H, corpus.W) if case != "exif-rotated" else (corpus.W, corpus.H)
        assert rgb.shape[:2] == expected, case
        assert image_size(path) == (expected[1], expected[0]), case
    bad = corpus.broken_images(tmp_path / "bad")
    for case, path in bad.items():
        for reader in (load_image, image_size):
            if case == "truncated" and reader is image_size:
                continue  # its header is intact: the size is known, decoding fails
            with pytest.raises(ImageReadError, match=path.name):
                reader(path)
    CASES["images"] = len(ok) + len(bad)


def test_a_folder_of_bad_images_makes_a_usable_project(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mixed"
    corpus.good_images(folder)
    corpus.readable_images(folder)
    bad = corpus.broken_images(folder)
    (folder / "..dotdot..png").write_bytes((folder / "good0.png").read_bytes())
    code = main(["project", "create", str(tmp_path / "p"), str(folder), "--labels", "camvid"])
    err = capsys.readouterr().err
    assert code == 1 and "..dotdot..png" in err and "Traceback" not in err  # reported, not dropped
    with Project.open(tmp_path / "p") as p:
        names = {r.rel_path for r in p.images()}
        assert {b.name for b in bad.values()} <= names  # cataloged; they fail one by one when used
        for rec in p.images():
            try:
                p.image_size(rec.id)
            except ImageReadError as exc:
                assert rec.rel_path in str(exc)
    CASES["project-create"] = len(bad) + 1


def test_bad_masks_are_refused_by_name_and_nothing_changes(
    project: Project, tmp_path: Path, capsys, digest
) -> None:
    masks = corpus.bad_masks(tmp_path / "masks")
    before = digest(project.project_dir / "masks")
    code = main(
        [
            "project",
            "import",
            str(project.project_dir),
            str(tmp_path / "masks"),
            "--format",
            "mask",
            "--overwrite",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert digest(project.project_dir / "masks") == before
    assert out.count("failed") >= 1 or "error" in out.lower(), out
    CASES["masks"] = len(masks)


def test_hostile_labelme_json_is_refused_by_name(project: Project, tmp_path: Path, capsys, digest) -> None:
    docs = corpus.hostile_labelme(tmp_path / "lm")
    before = digest(project.project_dir / "masks")
    code = main(
        [
            "project",
            "import",
            str(project.project_dir),
            str(tmp_path / "lm"),
            "--format",
            "labelme",
            "--overwrite",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert digest(project.project_dir / "masks") == before
    for case, path in docs.items():
        assert path.name in out + err, (case, out, err)
    CASES["labelme-json"] = len(docs)


def test_bad_checkpoints_are_refused_by_every_loader(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    cases = corpus.bad_checkpoints(tmp_path / "ck", good=tiny_checkpoint)
    image = tmp_path / "in.png"
    shutil.copy(corpus.good_images(tmp_path / "img")["good0"], image)
    for case, path in cases.items():
        with pytest.raises(CheckpointError, match=path.name):
            load_model(path)
        code = main(["predict", str(image), "-c", str(path), "-o", str(tmp_path / "out")])
        line = _one_error_line(capsys.readouterr().err, path.name)
        assert code == 1 and "weights_only" not in line, (case, line)
        code = main(["project", "info", str(path)])  # a checkpoint is not a project either
        _one_error_line(capsys.readouterr().err, path.name)
    assert not (tmp_path / "the-payload-ran").exists()
    CASES["checkpoints"] = len(cases)


def test_bad_training_configs_are_one_line(tmp_path: Path, capsys) -> None:
    cases = corpus.bad_configs(tmp_path / "cfg")
    for case, path in cases.items():
        code = main(["train", "--config", str(path), "--data-root", str(tmp_path)])
        line = _one_error_line(capsys.readouterr().err, "")
        assert code == 1, case
        assert path.name in line or "config value" in line or "learning_rate" in line, (case, line)
    for text in ("lr=abc", "batch_size=two"):
        code = main(["train", "--data-root", str(tmp_path), "--set", text])
        _one_error_line(capsys.readouterr().err, text.split("=")[0])
        assert code == 1
    CASES["configs"] = len(cases) + 2


def test_a_damaged_catalog_is_one_line_everywhere(project: Project, tmp_path: Path, capsys) -> None:
    import os

    pdir = project.project_dir
    project.close()
    data = bytearray((pdir / "project.sqlite").read_bytes())
    for offset in range(4096, len(data), 4096):
        data[offset : offset + 64] = os.urandom(64)
    (pdir / "project.sqlite").write_bytes(bytes(data))
    for argv in (
        ["project", "info", str(pdir)],
        ["export", str(pdir), str(tmp_path / "x"), "--format", "mask"],
    ):
        assert main(argv) == 1
        assert "damaged" in _one_error_line(capsys.readouterr().err, "project.sqlite")
    assert main(["project", "rebuild", str(pdir), "--images", str(tmp_path / "images")]) == 0
    assert main(["project", "info", str(pdir)]) == 0
    capsys.readouterr()
    CASES["catalog"] = 3


def test_zz_report_the_corpus(capsys) -> None:
    """The figures of this run (printed for the README; -s shows them)."""
    with capsys.disabled():
        print(f"\nfault corpus: {sum(CASES.values())} cases driven: {CASES}")
    assert sum(CASES.values()) >= 30
