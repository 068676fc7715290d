"""PAM/CAM: paper formulas, efficient == naive (forward and gradients), attention rows."""

from __future__ import annotations

import pytest
import torch

from danet_core.models import CAM, PAM, attention, cam_attention_matrix


def _pam_reference(pam: PAM, x: torch.Tensor) -> torch.Tensor:
    """The official DANet PAM_Module forward, written out with bmm as in the paper's code."""
    b, c, h, w = x.shape
    q = pam.query(x).view(b, -1, h * w).permute(0, 2, 1)
    k = pam.key(x).view(b, -1, h * w)
    attn = torch.softmax(torch.bmm(q, k), dim=-1)
    v = pam.value(x).view(b, -1, h * w)
    out = torch.bmm(v, attn.permute(0, 2, 1)).view(b, c, h, w)
    return pam.gamma * out + x


@pytest.fixture
def small_chunks(monkeypatch):
    # Force several query blocks on a tiny map so the chunked path is really exercised.
    monkeypatch.setattr(attention, "_CHUNK_ELEMS", 2 * 37)


def _pam(channels: int = 32) -> PAM:
    torch.manual_seed(0)
    pam = PAM(channels)
    with torch.no_grad():
        pam.gamma.fill_(0.7)  # 0 at init would hide the attention branch entirely
        for conv in (pam.query, pam.key):
            conv.weight.mul_(3.0)  # peaky energies, as in trained models
    return pam


def test_pam_naive_matches_official_formula():
    pam = _pam()
    pam.impl = "naive"
    x = torch.randn(2, 32, 5, 7)
    torch.testing.assert_close(pam(x), _pam_reference(pam, x), atol=1e-5, rtol=1e-5)


def test_pam_efficient_equals_naive_forward_and_gradients(small_chunks):
    pam = _pam()
    x = torch.randn(2, 32, 5, 7)
    outs, grads = {}, {}
    for impl in ("naive", "efficient"):
        pam.impl = impl
        pam.zero_grad()
        xi = x.clone().requires_grad_()
        out = pam(xi)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs[impl] = out.detach()
        grads[impl] = [xi.grad] + [p.grad.clone() for p in pam.parameters()]
    assert (outs["naive"] - outs["efficient"]).abs().max() <= 1e-4
    for g_naive, g_eff in zip(grads["naive"], grads["efficient"], strict=True):
        assert (g_naive - g_eff).abs().max() <= 1e-4
    assert grads["naive"][0].abs().sum() > 0


def test_pam_efficient_no_grad_uses_blocks(small_chunks, monkeypatch):
    calls = []
    real = attention._attend_into
    monkeypatch.setattr(
        attention,
        "_attend_into",
        lambda q, k, v, o, buf: calls.append((q.shape[0], buf.data_ptr())) or real(q, k, v, o, buf),
    )
    pam = _pam()
    x = torch.randn(2, 32, 5, 7)
    with torch.no_grad():
        out = pam(x)
    rows = [n for n, _ in calls]
    assert max(rows) < 35 and sum(rows) == 2 * 35  # never all N=35 queries in one block
    assert len({ptr for _, ptr in calls}) == 1  # one energy buffer for every block
    pam.impl = "naive"
    with torch.no_grad():
        assert (pam(x) - out).abs().max() <= 1e-5


def test_pam_attention_row_is_a_row_of_the_full_matrix():
    pam = _pam()
    x = torch.randn(1, 32, 6, 5)
    q = pam.query(x).flatten(2).transpose(1, 2)
    k = pam.key(x).flatten(2)
    full = torch.softmax(q @ k, dim=-1)  # 1 x N x N
    row = pam.attention_row(x, 4, 2)
    assert row.shape == (1, 6, 5)
    torch.testing.assert_close(row.flatten(1), full[:, 4 * 5 + 2], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="outside"):
        pam.attention_row(x, 6, 0)


def test_cam_matches_direct_formula():
    torch.manual_seed(1)
    cam = CAM()
    with torch.no_grad():
        cam.gamma.fill_(0.5)
    x = torch.randn(2, 6, 4, 3)
    xf = x.view(2, 6, -1)
    expected_attn = torch.empty(2, 6, 6)
    for b in range(2):
        energy = xf[b] @ xf[b].T
        for i in range(6):
            e = energy[i].max() - energy[i]
            expected_attn[b, i] = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
    torch.testing.assert_close(cam_attention_matrix(x), expected_attn, atol=1e-6, rtol=1e-5)
    expected = 0.5 * (expected_attn @ xf).view_as(x) + x
    torch.testing.assert_close(cam(x), expected, atol=1e-5, rtol=1e-5)


def test_gamma_starts_at_zero_so_attention_is_identity_at_init():
    x = torch.randn(1, 16, 3, 3)
    torch.testing.assert_close(PAM(16)(x), x)
    torch.testing.assert_close(CAM()(x), x)


def test_pam_bf16_autocast_close_to_fp32(small_chunks):
    pam = _pam()
    x = torch.randn(1, 32, 5, 7)
    with torch.no_grad():
        ref = pam(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = pam(x)
    assert (low.float() - ref).abs().max() < 0.1 * ref.abs().max()


def test_efficient_pam_equals_naive_where_the_exp_floor_applies(small_chunks):
    """Energies spanning hundreds (as in trained models): the clamped exp changes nothing measurable."""
    torch.manual_seed(3)
    n, ck, c = 35, 8, 16
    q = (torch.randn(2, n, ck) * 8).requires_grad_()
    k = (torch.randn(2, ck, n) * 8).requires_grad_()
    v = torch.randn(2, n, c).requires_grad_()
    energy = q @ k
    assert (energy - energy.amax(-1, keepdim=True)).min() < 2 * attention._EXP_FLOOR  # the floor is hit
    results = {}
    for impl in ("naive", "efficient"):
        out = attention.pam_attention(q, k, v, impl=impl)
        grads = torch.autograd.grad((out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum(), (q, k, v))
        with torch.no_grad():
            results[impl] = (out.detach(), grads, attention.pam_attention(q, k, v, impl=impl))
    naive, eff = results["naive"], results["efficient"]
    assert (naive[0] - eff[0]).abs().max() <= 1e-4
    assert (naive[2] - eff[2]).abs().max() <= 1e-4  # the no-grad block path
    for g_naive, g_eff in zip(naive[1], eff[1], strict=True):
        assert (g_naive - g_eff).abs().max() <= 1e-4 * max(1.0, float(g_naive.abs().max()))


def test_block_path_matches_the_oracle_on_a_large_peaky_problem(monkeypatch):
    """N = 3000 keys, energies of +-hundreds, several blocks: the exp2/floor/shared-buffer path."""
    monkeypatch.setattr(attention, "_CHUNK_ELEMS", 700 * 3000)
    gen = torch.Generator().manual_seed(5)
    q = torch.randn(1, 3000, 32, generator=gen) * 3
    k = torch.randn(1, 32, 3000, generator=gen) * 3
    v = torch.randn(1, 3000, 64, generator=gen)
    assert float((q @ k).abs().max()) > 150
    with torch.inference_mode():
        naive = attention.pam_attention(q, k, v, impl="naive")
        eff = attention.pam_attention(q, k, v)
    assert (naive - eff).abs().max() <= 1e-5 * max(1.0, float(naive.abs().max()))
