"""The FLOP counter behind the hardware limit and the preview budget."""

from __future__ import annotations

import pytest

from danet_core.models import ModelConfig
from danet_core.models.flops import count_flops, count_forward_flops


def test_pam_products_counted_exactly():
    import torch

    from danet_core.models import PAM

    with torch.device("meta"):
        pam = PAM(64)
        x = torch.empty(1, 64, 6, 10)
    flops = count_flops(lambda: pam(x))
    n, c, ck = 60, 64, 8
    assert flops.matmul == 2 * n * n * ck + 2 * n * n * c  # Q^T K and V A^T
    assert flops.conv == 2 * n * c * (ck + ck + c)  # the three 1 x 1 projections


def test_model_flops_grow_with_pixels_and_attention_quadratically():
    small = count_forward_flops(ModelConfig(depth=18, num_classes=11), 128, 256)
    large = count_forward_flops(ModelConfig(depth=18, num_classes=11), 256, 512)
    assert large.conv == pytest.approx(4 * small.conv, rel=0.02)
    assert large.matmul > 10 * small.matmul  # the PAM's N x N products
    with pytest.raises(ValueError, match="at least 8"):
        count_forward_flops(ModelConfig(depth=18), 4, 64)
