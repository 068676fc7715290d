"""Position and channel attention modules of DANet (Fu et al., CVPR 2019), paper/official-code exact.

PAM: energy = Q^T K (no scaling), softmax over keys, out = gamma * (V attn^T) + x, gamma initialised to 0.
CAM: energy = X X^T, energy_new = rowmax(energy) - energy, softmax, out = gamma * (attn X) + x.

Why an "efficient" PAM: the naive formulation materialises the N x N attention, N = (H/8)(W/8); at a
1024 x 2048 input that is 4 GiB per matrix. The efficient path computes exactly the same result one block
of queries at a time (softmax is per query row, so blocks are independent), keeping at most
``_CHUNK_ELEMS`` energies alive. With autograd on, each block runs under activation checkpointing so the
backward pass does not keep the blocks either (their energies are recomputed). We chose this over
``scaled_dot_product_attention`` because on CPU the flash kernel needs q/k padded from C/8 to C channels
(~1.8x the flops) and measured slower; the naive path stays available (``impl="naive"``) as the test
oracle.

Under autocast (bf16/fp16) the energies and softmax are computed in fp32: Q^T K is unscaled, so energies
reach the hundreds and bf16 rounding would distort the softmax; only the big value product (C x N x N)
runs in the low precision.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# Energies alive at once in the efficient PAM: 2^25 floats = 128 MiB, one buffer reused by every block.
_CHUNK_ELEMS = 1 << 25
# exp() of arguments below about -87 (results in fp32's denormal range) takes a slow path on x86 CPUs:
# measured ~12x slower than for arguments in the normal range (98 vs 1,200-1,460 M/s, 1 thread). The
# energies are unscaled (after the row max is subtracted they reach -hundreds), so at 1024 x 2048
# most of the 1.07e9 exponentials hit it. Clamping at -80 first changes each affected softmax term from
# < e^-80 to e^-80 (1.8e-35): with N <= 2^20 keys the row sum moves by < 2e-29, far below fp32 rounding.
_EXP_FLOOR = -80.0
# The block path computes exp(E - max) as 2 ** (log2(e) E - log2(e) max) in one pass (``add`` with
# ``alpha``): ``exp2`` runs at memory speed here, ~6x faster than ``exp`` on the same arguments (6.7 vs
# 39 ms per 1024 x 32768 block, 1 thread); scaling the queries instead was as fast but its rounding,
# relative to energies in the hundreds, moved the output by 2.6e-4 from the oracle (this: 1.2e-6).
_LOG2E = 1.4426950408889634


def _fp32(device: torch.device) -> contextlib.AbstractContextManager[object]:
    if device.type == "meta":  # FLOP counting on shape-only tensors: autocast has no meta backend
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)


def _softmax(energy: torch.Tensor) -> torch.Tensor:
    """softmax over the last dim with the exp floor above (autograd-safe; the floor is a constant)."""
    floor = energy.detach().amax(dim=-1, keepdim=True) + _EXP_FLOOR
    return torch.softmax(torch.maximum(energy, floor), dim=-1)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k) v for q: B x n x Ck, k: B x Ck x N, v: B x N x C -> B x n x C (energies in fp32)."""
    with _fp32(q.device):
        attn = _softmax(torch.bmm(q.float(), k.float()))
    return torch.bmm(attn.to(v.dtype), v)


def pam_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, impl: str = "efficient"
) -> torch.Tensor:
    """Position attention for q: B x N x Ck, k: B x Ck x N, v: B x N x C -> B x N x C.

    ``impl="naive"`` builds the full B x N x N matrix with a plain softmax (the test oracle);
    ``"efficient"`` never holds more than ``_CHUNK_ELEMS`` energies on the CPU, and on CUDA uses
    ``scaled_dot_product_attention`` (memory-efficient kernel) when it passed its check against the
    oracle on this device (see :mod:`danet_core.models.sdpa`). Same result up to float rounding.
    """
    if impl == "naive":
        with _fp32(q.device):
            attn = torch.softmax(torch.bmm(q.float(), k.float()), dim=-1)
        return torch.bmm(attn.to(v.dtype), v)
    if impl != "efficient":
        raise ValueError(f"pam impl {impl!r}; expected 'efficient' or 'naive'")
    if q.device.type == "cuda":
        from danet_core.models.sdpa import sdpa_pam_if_verified

        out = sdpa_pam_if_verified(q, k, v)
        if out is not None:
            return out
    return _chunked(q, k, v)


def _chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    b, n, _ = q.shape
    chunk = max(1, _CHUNK_ELEMS // max(1, k.shape[-1]))
    if chunk >= n and b == 1:
        return _attend(q, k, v)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        # each block under activation checkpointing: the backward recomputes its energies
        parts = [
            checkpoint(_attend, q[:, i : i + chunk], k, v, use_reentrant=False) for i in range(0, n, chunk)
        ]
        return torch.cat(parts, dim=1)
    out = torch.empty(b, n, v.shape[-1], dtype=v.dtype, device=v.device)
    with _fp32(q.device):
        energy = torch.empty(min(chunk, n), k.shape[-1], dtype=torch.float32, device=q.device)
        for bi in range(b):
            for i in range(0, n, chunk):
                _attend_into(q[bi, i : i + chunk], k[bi], v[bi], out[bi, i : i + chunk], energy)
    return out


def _attend_into(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, buffer: torch.Tensor
) -> None:
    """One no-grad block, q: n x Ck, k: Ck x N, v: N x C -> ``out`` n x C (contiguous rows).

    Why this shape: a fresh 128 MiB energy tensor per block costs as much again as its matrix product
    (the kernel maps and zeroes new pages), so every block reuses ``buffer``; and the softmax's division
    is applied to the n x C output instead of the n x N weights (exp(E) V / rowsum = softmax(E) V); exp
    is ``exp2`` of log2-scaled energies (see ``_LOG2E``): five memory passes over the block in all.
    """
    energy = buffer[: q.shape[0]]
    torch.mm(q.float(), k.float(), out=energy)
    shift = energy.amax(dim=-1, keepdim=True).mul_(-_LOG2E)
    torch.add(shift, energy, alpha=_LOG2E, out=energy)  # log2(e) (E - rowmax) <= 0
    energy.clamp_(min=_EXP_FLOOR * _LOG2E).exp2_()
    total = energy.sum(dim=-1, keepdim=True)
    if v.dtype == torch.float32:
        torch.mm(energy, v, out=out)
        out.div_(total)
    else:  # low precision value product (autocast): normalise the weights first, as the naive path does
        out.copy_(torch.mm(energy.div_(total).to(v.dtype), v))


class PAM(nn.Module):
    """Position attention module. forward(x: B x C x H x W) -> B x C x H x W."""

    def __init__(self, channels: int, *, impl: str = "efficient", key_channels: int | None = None) -> None:
        super().__init__()
        key_channels = key_channels or max(1, channels // 8)
        self.query = nn.Conv2d(channels, key_channels, 1)
        self.key = nn.Conv2d(channels, key_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.impl = impl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # B x N x Ck
        k = self.key(x).flatten(2)  # B x Ck x N
        v = self.value(x).flatten(2).transpose(1, 2)  # B x N x C
        out = pam_attention(q, k, v, impl=self.impl)
        return self.gamma * out.transpose(1, 2).reshape(b, c, h, w) + x

    def attention_row(self, x: torch.Tensor, y: int, x_pos: int) -> torch.Tensor:
        """Attention weights of the query pixel (y, x_pos) over all positions: B x H x W (sums to 1).

        Costs one query row (N energies), never N x N. ``x``: the module's input B x C x H x W.
        """
        b, _, h, w = x.shape
        if not (0 <= y < h and 0 <= x_pos < w):
            raise ValueError(f"query pixel ({y}, {x_pos}) outside the {h} x {w} feature map")
        assert self.query.bias is not None and self.key.bias is not None  # 1 x 1 convs built with a bias
        with _fp32(x.device):
            feat = x.float()
            q = F.conv2d(
                feat[:, :, y : y + 1, x_pos : x_pos + 1], self.query.weight.float(), self.query.bias.float()
            )
            k = F.conv2d(feat, self.key.weight.float(), self.key.bias.float())
            energy = torch.einsum("bc,bcn->bn", q.flatten(1), k.flatten(2))
            return torch.softmax(energy, dim=-1).reshape(b, h, w)


def cam_attention_matrix(x: torch.Tensor) -> torch.Tensor:
    """The CAM attention softmax(rowmax(X X^T) - X X^T) for x: B x C x H x W -> B x C x C (fp32)."""
    with _fp32(x.device):
        flat = x.float().flatten(2)
        energy = torch.bmm(flat, flat.transpose(1, 2))
        energy_new = energy.amax(dim=-1, keepdim=True) - energy
        return torch.softmax(energy_new, dim=-1)


class CAM(nn.Module):
    """Channel attention module. forward(x: B x C x H x W) -> B x C x H x W."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = cam_attention_matrix(x)
        out = torch.bmm(attn.to(x.dtype), x.flatten(2)).view_as(x)
        return self.gamma * out + x
