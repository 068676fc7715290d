"""DANet head and FCN head (also used as the auxiliary head on layer3, as mmsegmentation does)."""

from __future__ import annotations

import torch
from torch import nn

from danet_core.models.attention import CAM, PAM


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 conv (no bias) + BN + ReLU: keys ``0.weight``, ``1.{weight,bias,running_mean,running_var}``."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def classifier(cin: int, num_classes: int, dropout: float) -> nn.Sequential:
    """Dropout2d + 1x1 conv: keys ``1.weight``, ``1.bias`` (the official code's conv6/7/8 layout)."""
    return nn.Sequential(nn.Dropout2d(dropout), nn.Conv2d(cin, num_classes, 1))


class DANetHead(nn.Module):
    """Two attention branches on the backbone's last features, each classified, plus their sum.

    forward(x: B x Cin x h x w) -> {"out", "pam", "cam"} logits B x K x h x w, with inter = Cin / 4:
    x -> pam_in (3x3 conv-BN-ReLU to inter) -> PAM -> pam_out (3x3 conv-BN-ReLU) -> pam_cls;
    x -> cam_in -> CAM -> cam_out -> cam_cls; pam_out + cam_out -> cls.
    """

    def __init__(
        self, in_channels: int, num_classes: int, *, pam_impl: str = "efficient", dropout: float = 0.1
    ) -> None:
        super().__init__()
        inter = in_channels // 4
        self.pam_in, self.cam_in = conv_bn_relu(in_channels, inter), conv_bn_relu(in_channels, inter)
        self.pam, self.cam = PAM(inter, impl=pam_impl), CAM()
        self.pam_out, self.cam_out = conv_bn_relu(inter, inter), conv_bn_relu(inter, inter)
        self.pam_cls = classifier(inter, num_classes, dropout)
        self.cam_cls = classifier(inter, num_classes, dropout)
        self.cls = classifier(inter, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pam_feat, cam_feat = self._branches(x)
        return {
            "out": self.cls(pam_feat + cam_feat),
            "pam": self.pam_cls(pam_feat),
            "cam": self.cam_cls(cam_feat),
        }

    def forward_out(self, x: torch.Tensor) -> torch.Tensor:
        """The fused logits only (what inference uses): B x Cin x h x w -> B x K x h x w."""
        pam_feat, cam_feat = self._branches(x)
        return self.cls(pam_feat + cam_feat)

    def _branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pam_out(self.pam(self.pam_in(x))), self.cam_out(self.cam(self.cam_in(x)))


class FCNHead(nn.Sequential):
    """3x3 conv-BN-ReLU to ``channels`` + Dropout2d + 1x1 classifier; keys ``0``, ``1``, ``4``.

    The dilated-FCN baseline head (channels = Cin / 4) and the auxiliary head on layer3 (channels 256).
    forward(x: B x Cin x h x w) -> B x K x h x w.
    """

    def __init__(self, in_channels: int, channels: int, num_classes: int, *, dropout: float = 0.1) -> None:
        super().__init__(
            *conv_bn_relu(in_channels, channels), nn.Dropout2d(dropout), nn.Conv2d(channels, num_classes, 1)
        )
