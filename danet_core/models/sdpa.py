"""The PAM on CUDA through ``scaled_dot_product_attention``'s memory-efficient kernel, when it is exact.

Why: on a GPU the fused kernel never writes the N x N energies to memory at all, where the chunked path
writes and re-reads them block by block. The memory-efficient backend (unlike flash) accepts a query/key
head dim (C/8) different from the value's (C), so no padding is needed; ``scale=1`` keeps DANet's unscaled
energies. Its result is only used after it matched the naive oracle (plain softmax, fp32 energies) on
this device and dtype within ``TOLERANCE``, on energies as large as a trained model's; otherwise (or
when the backend is unavailable) the caller falls back to the chunked path, and the reason is logged
once. The check runs once per (device, dtype) per process (~milliseconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
_verified: dict[tuple[str, torch.dtype], bool] = {}


def sdpa_pam(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k) v by SDPA for q: B x N x Ck, k: B x Ck x N, v: B x N x C -> B x N x C.

    Runs on any device (the CPU uses its own SDPA kernels); on CUDA restricted to the memory-efficient
    backend so that a silently chosen different kernel cannot change the numbers that were checked.
    """
    qh, kh, vh = q.unsqueeze(1), k.transpose(1, 2).unsqueeze(1), v.unsqueeze(1)  # B x 1 x N x E
    if q.device.type != "cuda":
        return F.scaled_dot_product_attention(qh, kh, vh, scale=1.0).squeeze(1)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        return F.scaled_dot_product_attention(qh, kh, vh, scale=1.0).squeeze(1)


def _oracle(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    attn = torch.softmax(torch.bmm(q.float(), k.float()), dim=-1)
    return torch.bmm(attn, v.float())


def check_against_oracle(
    device: torch.device, dtype: torch.dtype, kernel: Callable[..., torch.Tensor] = sdpa_pam
) -> tuple[bool, str]:
    """Compare ``kernel`` with the oracle on a random PAM problem with energies in the hundreds.

    Forward and backward (q, k, v gradients) must agree within ``TOLERANCE`` relative to the output's
    scale (fp32); in fp16/bf16 the tolerance is that dtype's rounding of the same problem. Returns
    (ok, reason). ``kernel`` is replaceable so that the decision is testable without a GPU.
    """
    gen = torch.Generator().manual_seed(0)
    n, ck, c = 777, 16, 64  # odd N: no kernel gets a lucky multiple of its tile size
    # inputs rounded to ``dtype`` for both sides: the check is about the kernel, not about the rounding
    # of q/k/v, which the chunked path sees alike under autocast
    q, k, v = (
        (torch.randn(*shape, generator=gen) * scale).to(dtype).float().to(device)
        for shape, scale in (((2, n, ck), 4.0), ((2, ck, n), 4.0), ((2, n, c), 1.0))
    )
    tol = TOLERANCE if dtype == torch.float32 else 4 * torch.finfo(dtype).eps
    try:
        got, grads = _forward_backward(kernel, q, k, v, dtype)
    except RuntimeError as exc:  # no kernel for this device/dtype/shape
        return False, f"scaled_dot_product_attention failed: {exc}"
    want, want_grads = _forward_backward(_oracle, q, k, v, torch.float32)
    for name, a, b in [("output", got, want), *zip(("dq", "dk", "dv"), grads, want_grads, strict=True)]:
        err = float((a.float() - b).abs().max() / b.abs().max().clamp(min=1.0))
        if not err <= tol:
            return False, f"{name} differs from the naive oracle by {err:.2e} (tolerance {tol:.0e})"
    return True, "matches the naive oracle"


def _forward_backward(
    kernel: Callable[..., torch.Tensor], q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    leaves = [t.to(dtype).detach().requires_grad_() for t in (q, k, v)]
    out = kernel(*leaves)
    weight = torch.linspace(-1, 1, out.numel(), device=out.device).view_as(out)
    (out.float() * weight).sum().backward()
    return out.detach(), [t.grad.float() for t in leaves if t.grad is not None]


def sdpa_pam_if_verified(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor | None:
    """SDPA's result when the kernel passed :func:`check_against_oracle` here, else None."""
    autocast = torch.is_autocast_enabled(q.device.type)
    dtype = torch.get_autocast_dtype(q.device.type) if autocast else v.dtype
    key = (str(q.device), dtype)
    if key not in _verified:
        with torch.autocast("cuda", enabled=False), torch.enable_grad():
            ok, reason = check_against_oracle(q.device, dtype)
        _verified[key] = ok
        log.info("PAM on %s %s: %s", q.device, dtype, "SDPA memory-efficient kernel" if ok else reason)
    if not _verified[key]:
        return None
    return sdpa_pam(q, k, v)
