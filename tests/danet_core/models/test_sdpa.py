"""The CUDA PAM through scaled_dot_product_attention: its math, its check against the oracle, the fallback.

No GPU is needed: SDPA runs on the CPU with the same arguments, and the decision logic takes any kernel.
"""

from __future__ import annotations

import torch

from danet_core.models import attention, sdpa


def _problem(n: int = 50, ck: int = 8, c: int = 16) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    return (
        torch.randn(2, n, ck, generator=gen) * 4,
        torch.randn(2, ck, n, generator=gen) * 4,
        torch.randn(2, n, c, generator=gen),
    )


def test_sdpa_pam_is_the_unscaled_pam_softmax():
    q, k, v = _problem()
    want = attention.pam_attention(q, k, v, impl="naive")
    torch.testing.assert_close(sdpa.sdpa_pam(q, k, v), want, atol=1e-4, rtol=1e-4)


def test_check_accepts_sdpa_and_rejects_a_kernel_that_scales():
    ok, reason = sdpa.check_against_oracle(torch.device("cpu"), torch.float32)
    assert ok, reason

    def scaled(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # SDPA's default scale
        return torch.nn.functional.scaled_dot_product_attention(
            q.unsqueeze(1), k.transpose(1, 2).unsqueeze(1), v.unsqueeze(1)
        ).squeeze(1)

    ok, reason = sdpa.check_against_oracle(torch.device("cpu"), torch.float32, kernel=scaled)
    assert not ok and "differs from the naive oracle" in reason


def test_check_reports_a_kernel_that_fails():
    def broken(*_: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("No available kernel")

    ok, reason = sdpa.check_against_oracle(torch.device("cpu"), torch.float32, kernel=broken)
    assert not ok and "No available kernel" in reason


def test_verified_result_is_used_and_a_failed_check_falls_back(monkeypatch):
    q, k, v = _problem()
    monkeypatch.setattr(sdpa, "_verified", {})
    checks = []
    monkeypatch.setattr(sdpa, "check_against_oracle", lambda d, t: checks.append(t) or (True, "ok"))
    out = sdpa.sdpa_pam_if_verified(q, k, v)
    assert out is not None and sdpa.sdpa_pam_if_verified(q, k, v) is not None
    assert checks == [torch.float32]  # checked once per device and dtype
    monkeypatch.setattr(sdpa, "_verified", {})
    monkeypatch.setattr(sdpa, "check_against_oracle", lambda d, t: (False, "differs"))
    assert sdpa.sdpa_pam_if_verified(q, k, v) is None


def test_efficient_pam_routes_cuda_tensors_to_sdpa_only(monkeypatch):
    q, k, v = _problem()
    calls = []
    monkeypatch.setattr(sdpa, "sdpa_pam_if_verified", lambda *a: calls.append(1))
    attention.pam_attention(q, k, v)  # CPU tensors: the chunked path
    assert calls == []
