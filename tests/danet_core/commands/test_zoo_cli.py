"""`danet models list|download` end to end, downloads from a 127.0.0.1 server."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from loopback_server import LoopbackServer  # noqa: E402
from reference_danets import official_r18_checkpoint  # noqa: E402

from danet_core import zoo  # noqa: E402
from danet_core.checkpoints import load_model  # noqa: E402
from danet_core.cli import main  # noqa: E402


def test_list_shows_every_entry_and_the_cache(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert all(e.name in out for e in zoo.ENTRIES) and f"cache: {zoo.cache_dir()}" in out
    assert main(["models", "list", "--long"]) == 0
    assert "sha256 f3a929e7..., licence Apache-2.0" in capsys.readouterr().out


def test_download_then_native_checkpoint_with_the_zoo_options(tmp_path, capsys):
    official_r18_checkpoint(tmp_path / "served.pth")
    with LoopbackServer() as srv:
        srv.routes["/d"] = ((tmp_path / "served.pth").read_bytes(), "ok")
        rc = main(["models", "download", "danet101", "--url", srv.url("/d"), "--no-progress",
                   "--out", str(tmp_path / "native.pt")])  # fmt: skip
    assert rc == 0 and "verified (official-danet101-cityscapes)" in capsys.readouterr().out
    native = load_model(tmp_path / "native.pt", source="native")
    assert native.meta.config.multi_grid == (4, 8, 16) and native.meta.config.basic_conv2_dilation == "stage"


def test_download_failures_are_one_line(tmp_path, capsys):
    with LoopbackServer() as srv:
        srv.routes["/x"] = (b"PK" * 500, "ok")
        rc = main(["models", "download", "mmseg-danet-r50-ade20k-512x512-80k", "--url", srv.url("/x"),
                   "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1 and "does not match the published edb18e08" in err and err.count("\n") == 1
    assert main(["models", "download", "nope"]) == 1
    assert "no zoo model 'nope'" in capsys.readouterr().err
