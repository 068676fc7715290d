"""Which compute devices this machine has, probed once in a worker (it imports torch, which takes seconds).

The fine-tune plan and the settings dialog need to know whether "auto" means a GPU; asking torch on the
GUI thread froze the first project open for 2.7-3.7 s, so the window probes at start-up in a worker and
both read the answer from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from danet_core.options import DEVICE_AUTO, resolve_device


@dataclass(frozen=True)
class DeviceInfo:
    """``auto``: what "auto" resolves to ("cuda" or "cpu"); ``cuda``: the CUDA devices ("cuda:0", ...)."""

    auto: str
    cuda: tuple[str, ...] = ()

    def resolve(self, setting: str) -> str:
        """The device a setting names ("auto" resolved by the probe; others as they are)."""
        return self.auto if setting == DEVICE_AUTO else setting

    def choices(self) -> list[str]:
        """Device names a user can pick besides "auto"."""
        return ["cpu", *self.cuda]


def probe_devices() -> DeviceInfo:
    """Ask torch (run this in a worker)."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return DeviceInfo(auto=resolve_device(DEVICE_AUTO), cuda=tuple(f"cuda:{i}" for i in range(count)))
