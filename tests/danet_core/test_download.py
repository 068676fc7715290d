"""danet_core.download against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import time

import pytest
from loopback_server import LoopbackServer

from danet_core.download import ChecksumError, DownloadError, download, part_path
from danet_core.jobs import Cancelled

BODY = bytes(range(256)) * 40_000  # 10.24 MB: several 1 MiB chunks
SHA = hashlib.sha256(BODY).hexdigest()


def test_full_download_verifies_and_renames(tmp_path):
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "ok")
        seen = []
        res = download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix=SHA[:8],
                       progress=lambda d, t, _m: seen.append((d, t)))  # fmt: skip
    assert (tmp_path / "m.pth").read_bytes() == BODY and res.sha256 == SHA and res.resumed_from == 0
    assert not part_path(tmp_path / "m.pth").exists()
    assert seen[-1] == (len(BODY), len(BODY)) and len(seen) >= 10


def test_cut_connection_is_resumed_with_a_range_request(tmp_path):
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "cut-once")
        download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix=SHA[:8])
        ranges = list(srv.ranges)
    assert (tmp_path / "m.pth").read_bytes() == BODY
    assert ranges[0] is None and ranges[1] == f"bytes={len(BODY) // 2}-"


def test_part_file_from_an_earlier_run_is_resumed(tmp_path):
    part_path(tmp_path / "m.pth").write_bytes(BODY[:3_000_000])
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "ok")
        res = download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix=SHA[:8])
        assert srv.ranges == ["bytes=3000000-"]
    assert res.resumed_from == 3_000_000 and (tmp_path / "m.pth").read_bytes() == BODY


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    part_path(tmp_path / "m.pth").write_bytes(b"garbage" * 1000)
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "no-range")
        download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix=SHA[:8])
    assert (tmp_path / "m.pth").read_bytes() == BODY


def test_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path):
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "ok")
        with pytest.raises(ChecksumError, match="does not match the published 00000000"):
            download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix="00000000")
    assert not (tmp_path / "m.pth").exists() and not part_path(tmp_path / "m.pth").exists()


def test_404_names_the_url(tmp_path):
    with LoopbackServer() as srv:
        url = srv.url("/missing.pth")
        with pytest.raises(DownloadError, match=f"cannot download {url}: HTTP 404"):
            download(url, tmp_path / "m.pth")


def test_stalling_server_times_out_quickly_and_keeps_the_part(tmp_path):
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "stall")
        t0 = time.monotonic()
        with pytest.raises(DownloadError, match="no data within the timeout"):
            download(srv.url("/m.pth"), tmp_path / "m.pth", timeout=0.5)
        assert time.monotonic() - t0 < 5
    assert part_path(tmp_path / "m.pth").read_bytes() == BODY[:10]


def test_nothing_listening_fails_within_seconds(tmp_path):
    with LoopbackServer() as srv:
        url = srv.url("/m.pth")
    t0 = time.monotonic()  # the server is closed: connection refused, like an offline machine
    with pytest.raises(DownloadError, match=f"cannot download {url}"):
        download(url, tmp_path / "m.pth", timeout=2)
    assert time.monotonic() - t0 < 3


def test_cancel_keeps_the_part_for_a_resume(tmp_path):
    with LoopbackServer() as srv:
        srv.routes["/m.pth"] = (BODY, "ok")
        calls = []
        with pytest.raises(Cancelled):
            download(srv.url("/m.pth"), tmp_path / "m.pth", progress=lambda d, t, m: calls.append(d),
                     should_stop=lambda: len(calls) >= 2)  # fmt: skip
        kept = part_path(tmp_path / "m.pth").stat().st_size
        assert 0 < kept < len(BODY)
        download(srv.url("/m.pth"), tmp_path / "m.pth", sha256_prefix=SHA[:8])
        assert srv.ranges[-1] == f"bytes={kept}-"
    assert (tmp_path / "m.pth").read_bytes() == BODY
