"""Independent re-implementations of the official DANet and mmsegmentation DANet architectures.

They carry exactly the public checkpoints' parameter names, so their randomly initialised state dicts
are stand-ins for the released files in the import round-trip tests. Written from the two code bases
(junfu1115/DANet encoding/models/sseg/danet.py; mmseg/models/decode_heads/da_head.py, fcn_head.py,
backbones/resnet.py ResNetV1c); they deliberately do not import danet_core.models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tv


def _dilated_resnet(
    depth: int, multi_grid: tuple[int, ...] | None, deep_inplanes: int | None = None
) -> tv.ResNet:
    block, layers = {50: (tv.Bottleneck, [3, 4, 6, 3]), 101: (tv.Bottleneck, [3, 4, 23, 3])}[depth]
    net = tv.ResNet(block, layers, replace_stride_with_dilation=[False, True, True])
    if deep_inplanes:
        net.inplanes, net.dilation = deep_inplanes, 1  # _make_layer reads the running dilation
        net.layer1 = net._make_layer(block, 64, layers[0])
    if multi_grid:
        for blk, d in zip(net.layer4, multi_grid, strict=False):
            blk.conv2.dilation, blk.conv2.padding = (d, d), (d, d)
    return net


# ---- official DANet (encoding) ----------------------------------------------------------------------
class PAM_Module(nn.Module):  # noqa: N801 - the official name
    def __init__(self, in_dim: int):
        super().__init__()
        self.query_conv = nn.Conv2d(in_dim, in_dim // 8, 1)
        self.key_conv = nn.Conv2d(in_dim, in_dim // 8, 1)
        self.value_conv = nn.Conv2d(in_dim, in_dim, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.size()
        proj_query = self.query_conv(x).view(b, -1, w * h).permute(0, 2, 1)
        proj_key = self.key_conv(x).view(b, -1, w * h)
        attention = torch.softmax(torch.bmm(proj_query, proj_key), dim=-1)
        proj_value = self.value_conv(x).view(b, -1, w * h)
        out = torch.bmm(proj_value, attention.permute(0, 2, 1)).view(b, c, h, w)
        return self.gamma * out + x


class CAM_Module(nn.Module):  # noqa: N801
    def __init__(self):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.size()
        q = x.view(b, c, -1)
        energy = torch.bmm(q, x.view(b, c, -1).permute(0, 2, 1))
        energy_new = torch.max(energy, -1, keepdim=True)[0].expand_as(energy) - energy
        attention = torch.softmax(energy_new, dim=-1)
        out = torch.bmm(attention, x.view(b, c, -1)).view(b, c, h, w)
        return self.gamma * out + x


def _cbr(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DANetHead(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        inter = in_channels // 4
        self.conv5a, self.conv5c = _cbr(in_channels, inter), _cbr(in_channels, inter)
        self.sa, self.sc = PAM_Module(inter), CAM_Module()
        self.conv51, self.conv52 = _cbr(inter, inter), _cbr(inter, inter)
        self.conv6 = nn.Sequential(nn.Dropout2d(0.1, False), nn.Conv2d(inter, out_channels, 1))
        self.conv7 = nn.Sequential(nn.Dropout2d(0.1, False), nn.Conv2d(inter, out_channels, 1))
        self.conv8 = nn.Sequential(nn.Dropout2d(0.1, False), nn.Conv2d(inter, out_channels, 1))

    def forward(self, x):
        sa_conv = self.conv51(self.sa(self.conv5a(x)))
        sc_conv = self.conv52(self.sc(self.conv5c(x)))
        return self.conv8(sa_conv + sc_conv), self.conv6(sa_conv), self.conv7(sc_conv)


class OfficialDANet(nn.Module):
    def __init__(self, nclass: int, *, depth: int = 50, deep_stem: bool = False, multi_grid=(4, 8, 16)):
        super().__init__()
        self.pretrained = _dilated_resnet(depth, multi_grid, 128 if deep_stem else None)
        if deep_stem:
            self.pretrained.conv1 = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                nn.Conv2d(64, 128, 3, 1, 1, bias=False),
            )  # fmt: skip
            self.pretrained.bn1 = nn.BatchNorm2d(128)
        self.head = DANetHead(2048, nclass)

    def forward(self, x):
        size, p = x.shape[2:], self.pretrained
        x = p.maxpool(p.relu(p.bn1(p.conv1(x))))
        c4 = p.layer4(p.layer3(p.layer2(p.layer1(x))))
        return [F.interpolate(o, size, mode="bilinear", align_corners=True) for o in self.head(c4)]


# ---- mmsegmentation DANet ---------------------------------------------------------------------------
class ConvModule(nn.Module):
    def __init__(self, cin, cout, k=3, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU()

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class Scale(nn.Module):
    def __init__(self, scale: float = 0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale, dtype=torch.float))

    def forward(self, x):
        return x * self.scale


class MMPAM(nn.Module):
    def __init__(self, in_channels, channels):
        super().__init__()
        self.query_project = nn.Conv2d(in_channels, channels, 1)
        self.key_project = nn.Conv2d(in_channels, channels, 1)
        self.value_project = nn.Conv2d(in_channels, in_channels, 1)
        self.gamma = Scale(0)

    def forward(self, x):
        b = x.size(0)
        query = self.query_project(x).reshape(b, -1, x.shape[2] * x.shape[3]).permute(0, 2, 1)
        key = self.key_project(x).reshape(b, -1, x.shape[2] * x.shape[3])
        value = self.value_project(x).reshape(b, x.shape[1], -1).permute(0, 2, 1)
        sim_map = F.softmax(torch.matmul(query, key), dim=-1)
        context = torch.matmul(sim_map, value).permute(0, 2, 1).contiguous().reshape(b, -1, *x.shape[2:])
        return self.gamma(context) + x


class MMCAM(nn.Module):
    def __init__(self):
        super().__init__()
        self.gamma = Scale(0)

    def forward(self, x):
        b, c, h, w = x.size()
        energy = torch.bmm(x.view(b, c, -1), x.view(b, c, -1).permute(0, 2, 1))
        energy_new = torch.max(energy, -1, keepdim=True)[0].expand_as(energy) - energy
        out = torch.bmm(F.softmax(energy_new, dim=-1), x.view(b, c, -1)).view(b, c, h, w)
        return self.gamma(out) + x


class DAHead(nn.Module):
    def __init__(self, num_classes, in_channels=2048, channels=512, pam_channels=64):
        super().__init__()
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        self.pam_in_conv = ConvModule(in_channels, channels)
        self.pam = MMPAM(channels, pam_channels)
        self.pam_out_conv = ConvModule(channels, channels)
        self.pam_conv_seg = nn.Conv2d(channels, num_classes, 1)
        self.cam_in_conv = ConvModule(in_channels, channels)
        self.cam = MMCAM()
        self.cam_out_conv = ConvModule(channels, channels)
        self.cam_conv_seg = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x):
        pam_feat = self.pam_out_conv(self.pam(self.pam_in_conv(x)))
        cam_feat = self.cam_out_conv(self.cam(self.cam_in_conv(x)))
        seg = self.conv_seg(self.dropout(pam_feat + cam_feat))
        return seg, self.pam_conv_seg(self.dropout(pam_feat)), self.cam_conv_seg(self.dropout(cam_feat))


class FCNAuxHead(nn.Module):
    def __init__(self, num_classes, in_channels=1024, channels=256):
        super().__init__()
        self.dropout = nn.Dropout2d(0.1)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        self.convs = nn.Sequential(ConvModule(in_channels, channels))

    def forward(self, x):
        return self.conv_seg(self.dropout(self.convs(x)))


class MMBackbone(nn.Module):
    """ResNetV1c: deep stem 3->32/2, 32->32, 32->64, maxpool, dilations (1, 1, 2, 4), contract dilation."""

    def __init__(self, depth: int = 50):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        )  # fmt: skip
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        net = _dilated_resnet(depth, None)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def forward(self, x):
        c1 = self.layer1(self.maxpool(self.stem(x)))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        return c1, c2, c3, self.layer4(c3)


class MMSegDANet(nn.Module):
    def __init__(self, num_classes: int, depth: int = 50):
        super().__init__()
        self.backbone = MMBackbone(depth)
        self.decode_head = DAHead(num_classes)
        self.auxiliary_head = FCNAuxHead(num_classes)

    def forward(self, x):
        feats = self.backbone(x)
        outs = list(self.decode_head(feats[3])) + [self.auxiliary_head(feats[2])]
        return [F.interpolate(o, x.shape[2:], mode="bilinear", align_corners=False) for o in outs]


def randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, BN statistics and non-zero attention gammas so that every tensor matters."""
    g = torch.Generator().manual_seed(seed)

    def rand(t: torch.Tensor, scale: float, shift: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=g) * scale + shift)

    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                rand(m.weight, 0.1, 1.0)
                rand(m.bias, 0.1)
                rand(m.running_mean, 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                rand(m.bias, 0.1)  # conv weights keep PyTorch's (random) default init: cheaper
        for name, p in module.named_parameters():
            if name.endswith(("gamma", "gamma.scale")):
                p.fill_(0.5)
    return module.eval()


# ---- ResNet-18 BasicBlock backbones as the two code bases build them ---------------------------------
class RefBasicBlock(nn.Module):
    """conv1: stride, dilation ``d1``; conv2: dilation ``d2`` (mmseg: 1; official: previous_dilation)."""

    def __init__(self, cin: int, planes: int, stride: int, d1: int, d2: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, d1, d1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, d2, d2, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


def _ref_layer(cin, planes, blocks, stride, dilation, layout, multi_grid=None):
    """mmseg ResLayer (contract_dilation, multi_grid[i]) or encoding's _make_layer, for BasicBlock."""
    if layout == "mmseg":
        firsts = [multi_grid[0] if multi_grid else (dilation // 2 if dilation > 1 else 1)]
        rest = [multi_grid[i] if multi_grid else dilation for i in range(1, blocks)]
        d2 = [1] * blocks  # mmseg BasicBlock: conv2 = 3x3, padding 1
    else:  # official: first block 1 for dilation 1/2, 2 for 4; conv2 uses previous_dilation = dilation
        firsts = [multi_grid[0] if multi_grid else {1: 1, 2: 1, 4: 2}[dilation]]
        rest = [multi_grid[i % len(multi_grid)] if multi_grid else dilation for i in range(1, blocks)]
        d2 = [dilation] * blocks
    d1 = firsts + rest
    mods = [RefBasicBlock(cin, planes, stride, d1[0], d2[0])]
    mods += [RefBasicBlock(planes, planes, 1, d1[i], d2[i]) for i in range(1, blocks)]
    return nn.Sequential(*mods)


class RefDANet18(nn.Module):
    """DANet-R18 as mmseg (ResNetV1c stem, DAHead 512->128, keys of MMSegDANet) or the official code."""

    def __init__(self, layout: str, num_classes: int = 4, multi_grid=None):
        super().__init__()
        self.layout = layout
        body = nn.Module()
        if layout == "mmseg":
            body.stem = nn.Sequential(
                nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            )  # fmt: skip
        else:
            body.conv1, body.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        body.layer1 = _ref_layer(64, 64, 2, 1, 1, layout)
        body.layer2 = _ref_layer(64, 128, 2, 2, 1, layout)
        body.layer3 = _ref_layer(128, 256, 2, 1, 2, layout)
        body.layer4 = _ref_layer(256, 512, 2, 1, 4, layout, multi_grid)
        if layout == "mmseg":
            self.backbone, self.decode_head = body, DAHead(num_classes, 512, 128, 16)
        else:
            self.pretrained, self.head = body, DANetHead(512, num_classes)

    def forward(self, x):
        size = x.shape[2:]
        if self.layout == "mmseg":
            b = self.backbone
            y = F.max_pool2d(b.stem(x), 3, 2, 1)
        else:
            b = self.pretrained
            y = F.max_pool2d(F.relu(b.bn1(b.conv1(x))), 3, 2, 1)
        c4 = b.layer4(b.layer3(b.layer2(b.layer1(y))))
        outs = self.decode_head(c4) if self.layout == "mmseg" else self.head(c4)
        align = self.layout != "mmseg"
        return [F.interpolate(o, size, mode="bilinear", align_corners=align) for o in outs]


def official_r18_checkpoint(path, num_classes: int = 19, multi_grid=(4, 8, 16)) -> RefDANet18:
    """Save a random official-layout DANet-R18 as ``{"state_dict": ...}`` (as the release) and return it."""
    ref = randomise(RefDANet18("official", num_classes=num_classes, multi_grid=multi_grid))
    torch.save({"state_dict": ref.state_dict()}, path)
    return ref
