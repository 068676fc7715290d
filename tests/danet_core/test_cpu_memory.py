"""The glibc allocator tuning: in effect once, off with DANET_MALLOC_TUNE=0, trim is safe to call."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = (
    "from danet_core import cpu_memory as m; t = m.tune_allocator(); m.release_memory(); "
    "import torch; x = torch.empty(64 << 20, dtype=torch.uint8); x.fill_(1); del x; m.release_memory(); "
    "print(t, m.tune_allocator())"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.parametrize(
    ("env", "expected"), [({}, "True True"), ({"DANET_MALLOC_TUNE": "0"}, "False False")]
)
def test_tuning_in_a_fresh_process(env, expected, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == expected.split()
