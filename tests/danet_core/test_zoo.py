"""The model zoo: its facts, the cache, fetch against a 127.0.0.1 server, hand-placed files."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
import torch
from loopback_server import LoopbackServer

from danet_core import zoo
from danet_core.checkpoints import load_model
from danet_core.models import ModelConfig, build_model


def test_entries_carry_the_published_facts():
    names = [e.name for e in zoo.ENTRIES]
    assert len(names) == len(set(names)) == 17
    mmseg = [e for e in zoo.ENTRIES if e.source == "mmseg"]
    assert len(mmseg) == 16
    for e in mmseg:
        stem = re.match(r"(danet_r(50|101)-d8_\w+?)_\d{8}_\d{6}-([0-9a-f]{8})\.pth$", e.filename)
        assert stem and e.url == f"{zoo.MMSEG_BASE}/{stem.group(1)}/{e.filename}"
        assert e.sha256_prefix == stem.group(3) and e.licence == "Apache-2.0" and e.stem == "v1c"
        assert e.align_corners == ("769x769" in e.filename) and e.multi_grid is None
        assert e.predict_options().protocol == "mmseg"
    r101 = zoo.get_entry("mmseg-danet-r101-cityscapes-769x769-80k")
    assert (r101.miou, r101.miou_ms_flip, r101.sha256_prefix) == (80.47, 82.02, "f3a929e7")
    opts = r101.predict_options()
    assert (opts.mode, opts.crop, opts.stride) == ("slide", (769, 769), (513, 513))
    official = zoo.get_entry("danet101")
    assert official.multi_grid == (4, 8, 16) and official.miou == 79.93 and official.sha256_prefix is None
    with pytest.raises(ValueError, match="no zoo model 'nope'; expected one of: official-danet101"):
        zoo.get_entry("nope")


@pytest.mark.parametrize("name", ["official-danet101-cityscapes", "mmseg-danet-r50-ade20k-512x512-80k"])
def test_approximate_sizes_are_the_architectures_weights(name):
    e = zoo.get_entry(name)
    with torch.device("meta"):
        model = build_model(ModelConfig(depth=e.depth, stem=e.stem, num_classes=e.num_classes,
                                        aux=e.source == "mmseg"))  # fmt: skip
    mb = sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e6
    fc = (2048 * 1000 + 1000) * 4 / 1e6 if e.source == "official" else 0.0  # the release keeps the fc
    assert e.approx_mb == pytest.approx(mb + fc, abs=0.6)


def _official_file(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "models"))
    from reference_danets import official_r18_checkpoint  # the official code's layout, as a ResNet-18

    ref = official_r18_checkpoint(tmp_path / "served.pth")
    return (tmp_path / "served.pth").read_bytes(), ref


def test_fetch_downloads_verifies_caches_and_loads_with_the_zoo_options(tmp_path):
    body, ref = _official_file(tmp_path)
    entry = zoo.get_entry("official-danet101-cityscapes")
    with LoopbackServer() as srv:
        srv.routes["/DANet101.pth.tar"] = (body, "cut-once")
        path = zoo.fetch(entry, url=srv.url("/DANet101.pth.tar"))
    assert path == zoo.cache_dir() / "DANet101.pth.tar" and path.read_bytes() == body
    assert zoo.fetch(entry) == path  # cached: no server needed any more
    model = load_model(path)  # the file name is the zoo's: its multi-grid and align_corners apply
    assert model.meta.config.multi_grid == (4, 8, 16) and model.meta.classes[0]["name"] == "road"
    x = torch.randn(1, 3, 40, 48)
    with torch.no_grad():
        assert torch.allclose(model(x)["out"], ref(x)[0], atol=1e-4)


def test_published_checksum_is_checked(tmp_path):
    entry = zoo.get_entry("mmseg-danet-r50-cityscapes-512x1024-40k")
    with LoopbackServer() as srv:
        srv.routes["/x.pth"] = (b"PK not the published file" * 100, "ok")
        with pytest.raises(zoo.ZooError, match="does not match the published c0dbfa5f") as err:
            zoo.fetch(entry, url=srv.url("/x.pth"))
    assert str(zoo.cached_file(entry)) in str(err.value)
    assert not zoo.cached_file(entry).exists()


def test_a_file_that_is_not_a_checkpoint_is_refused_and_removed(tmp_path):
    entry = zoo.get_entry("official-danet101-cityscapes")
    with LoopbackServer() as srv:
        srv.routes["/d"] = (b"<!DOCTYPE html><html>Google Drive - quota exceeded</html>", "ok")
        with pytest.raises(zoo.ZooError, match="sent an HTML page .*not a PyTorch checkpoint.*place it at"):
            zoo.fetch(entry, url=srv.url("/d"))
    assert not zoo.cached_file(entry).exists()


def test_offline_one_clear_message_within_seconds():
    entry = zoo.get_entry("mmseg-danet-r101-voc12aug-512x512-40k")
    with LoopbackServer() as srv:
        url = srv.url("/gone.pth")
    t0 = time.monotonic()
    with pytest.raises(zoo.ZooError) as err:
        zoo.fetch(entry, url=url, timeout=2)
    assert time.monotonic() - t0 < 3
    msg = str(err.value)
    assert f"cannot download {url}" in msg and f"place it at {zoo.cached_file(entry)}" in msg
    assert entry.url in msg  # where to get it by hand


def test_hand_placed_file_is_verified_and_used(tmp_path):
    body, _ = _official_file(tmp_path)
    entry = zoo.get_entry("official-danet101-cityscapes")
    zoo.cache_dir().mkdir(parents=True)
    zoo.cached_file(entry).write_bytes(body)
    assert zoo.fetch(entry, url="http://127.0.0.1:9/never-contacted") == zoo.cached_file(entry)
    mm = zoo.get_entry("mmseg-danet-r50-ade20k-512x512-80k")
    shutil.copy(zoo.cached_file(entry), zoo.cached_file(mm))  # right format, wrong file
    with pytest.raises(zoo.ZooError, match="does not match the published edb18e08.*Delete it"):
        zoo.fetch(mm)


def test_local_entry_round_trip_with_its_own_checksum(tmp_path):
    body, _ = _official_file(tmp_path)
    digest = hashlib.sha256(body).hexdigest()
    entry = dataclasses.replace(zoo.get_entry("danet101"), filename="mine.pth", sha256_prefix=digest[:8])
    with LoopbackServer() as srv:
        srv.routes["/mine.pth"] = (body, "ok")
        assert zoo.fetch(entry, url=srv.url("/mine.pth")).read_bytes() == body


def test_cache_dir_is_shared_and_can_be_moved(monkeypatch, tmp_path):
    assert zoo.cache_dir().parts[-2:] == ("danet-annotator", "models")
    monkeypatch.setenv(zoo.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert zoo.cache_dir() == tmp_path / "elsewhere"


def test_source_auto_takes_the_zoo_options_for_a_zoo_file_and_warns_otherwise(tmp_path, caplog):
    sys.path.insert(0, str(Path(__file__).parent / "models"))
    from reference_danets import RefDANet18, randomise

    state = {"state_dict": randomise(RefDANet18("mmseg", num_classes=19)).state_dict()}
    entry = zoo.get_entry("mmseg-danet-r50-cityscapes-769x769-40k")
    torch.save(state, tmp_path / entry.filename)
    torch.save(state, tmp_path / "danet_r18-d8_769x769_mine.pth")
    assert load_model(tmp_path / entry.filename).meta.config.align_corners is True  # mmseg trained it so
    with caplog.at_level("WARNING"):
        mine = load_model(tmp_path / "danet_r18-d8_769x769_mine.pth")
    assert mine.meta.config.align_corners is False
    assert "assuming the mmseg defaults multi_grid=None, align_corners=False" in caplog.text
    assert "its name says 769x769: mmseg trained those with align_corners=True" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_model(tmp_path / "danet_r18-d8_769x769_mine.pth", align_corners=True, multi_grid=None)
    assert "cannot be read from the weights" not in caplog.text  # the caller said it
