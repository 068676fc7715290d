"""Key mapping from the two public DANet checkpoint layouts to this package's parameter names.

Official DANet (junfu1115/DANet, ``state_dict`` key): backbone under ``pretrained.`` (torchvision names;
7x7 stem, or the deep stem ``conv1.{0,1,3,4,6}`` + ``bn1`` of 128 channels), head ``head.conv5a/5c``
(conv-BN-ReLU in), ``head.sa`` (PAM: query_conv/key_conv/value_conv/gamma), ``head.sc`` (CAM: gamma),
``head.conv51/52`` (conv-BN-ReLU out), ``head.conv6/7/8`` (dropout + 1x1: PAM, CAM, fused).

mmsegmentation DANet: ``backbone.stem.{0,1,3,4,6,7}`` (ResNetV1c) + ``backbone.layer*``,
``decode_head.{pam,cam}_{in,out}_conv.{conv,bn}``, ``decode_head.pam.{query,key,value}_project``,
``decode_head.{pam,cam}.gamma.scale`` (0-d), ``decode_head.{pam_conv_seg,cam_conv_seg,conv_seg}``,
``auxiliary_head.convs.0.{conv,bn}`` + ``auxiliary_head.conv_seg``.

What the weights reveal (depth, block type, stem, class count, aux width) is inferred here; the rest
(multi-grid, align_corners) comes from each layout's documented defaults or the caller's keyword arguments.
"""

from __future__ import annotations

import re
from typing import Any

import torch

# (pattern, replacement) applied in order; the first match wins.
OFFICIAL_RULES: tuple[tuple[str, str], ...] = (
    (r"^pretrained\.", "backbone."),
    (r"^head\.conv5a\.", "head.pam_in."),
    (r"^head\.conv5c\.", "head.cam_in."),
    (r"^head\.sa\.query_conv\.", "head.pam.query."),
    (r"^head\.sa\.key_conv\.", "head.pam.key."),
    (r"^head\.sa\.value_conv\.", "head.pam.value."),
    (r"^head\.sa\.gamma$", "head.pam.gamma"),
    (r"^head\.sc\.gamma$", "head.cam.gamma"),
    (r"^head\.conv51\.", "head.pam_out."),
    (r"^head\.conv52\.", "head.cam_out."),
    (r"^head\.conv6\.", "head.pam_cls."),
    (r"^head\.conv7\.", "head.cam_cls."),
    (r"^head\.conv8\.", "head.cls."),
)
OFFICIAL_IGNORED = (r"^pretrained\.fc\.",)

MMSEG_RULES: tuple[tuple[str, str], ...] = (
    (r"^backbone\.", "backbone."),
    (r"^decode_head\.(pam|cam)_(in|out)_conv\.conv\.", r"head.\1_\2.0."),
    (r"^decode_head\.(pam|cam)_(in|out)_conv\.bn\.", r"head.\1_\2.1."),
    (r"^decode_head\.pam\.(query|key|value)_project\.", r"head.pam.\1."),
    (r"^decode_head\.(pam|cam)\.gamma\.scale$", r"head.\1.gamma"),
    (r"^decode_head\.(pam|cam)_conv_seg\.", r"head.\1_cls.1."),
    (r"^decode_head\.conv_seg\.", "head.cls.1."),
    (r"^auxiliary_head\.convs\.0\.conv\.", "aux_head.0."),
    (r"^auxiliary_head\.convs\.0\.bn\.", "aux_head.1."),
    (r"^auxiliary_head\.conv_seg\.", "aux_head.4."),
)

LAYOUT_DEFAULTS: dict[str, dict[str, Any]] = {
    # The released DANet101 (Cityscapes) uses the 7x7 stem with multi-grid 4, 8, 16 and align_corners=True.
    "official": {"multi_grid": (4, 8, 16), "align_corners": True},
    # mmsegmentation's danet_r50/r101-d8 configs: ResNetV1c, contract dilation, align_corners=False.
    "mmseg": {"multi_grid": None, "align_corners": False},
}
# BasicBlock backbones (ResNet-18/34): mmseg's BasicBlock does not dilate conv2 (backbones/resnet.py),
# the official code dilates it by the stage's dilation (encoding/dilated/resnet.py, previous_dilation).
BASIC_CONV2: dict[str, str] = {"official": "stage", "mmseg": "none"}
LAYER4_BLOCKS = {18: 2, 34: 3, 50: 3, 101: 3}
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # = mmseg's 123.675, 116.28, 103.53 on 0-255
IMAGENET_STD = (0.229, 0.224, 0.225)  # = mmseg's 58.395, 57.12, 57.375 on 0-255


def rename_keys(
    state: dict[str, torch.Tensor], rules: tuple[tuple[str, str], ...], ignored: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Apply ``rules`` to every key: (renamed state, keys no rule matched). Ignored keys are dropped."""
    out: dict[str, torch.Tensor] = {}
    unmatched: list[str] = []
    for key, value in state.items():
        if any(re.match(p, key) for p in ignored):
            continue
        for pattern, repl in rules:
            if re.match(pattern, key):
                new = re.sub(pattern, repl, key)
                out[new] = value.reshape(1) if new.endswith(".gamma") and value.dim() == 0 else value
                break
        else:
            unmatched.append(key)
    return out, unmatched


def _count_blocks(state: dict[str, torch.Tensor], prefix: str) -> int:
    idx = {int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(idx) + 1 if idx else 0


def infer_architecture(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Depth, stem, class count and aux settings from a state dict in *native* key names.

    Raises ValueError naming what is missing when the weights do not describe a DILATED ResNet DANet/FCN.
    """
    bottleneck = "backbone.layer1.0.conv3.weight" in state
    blocks = tuple(_count_blocks(state, f"backbone.layer{i}.") for i in range(1, 5))
    depths: dict[tuple[int, ...], int] = {
        (3, 4, 6, 3): 50 if bottleneck else 34,
        (3, 4, 23, 3): 101,
        (2, 2, 2, 2): 18,
    }
    valid = blocks in depths and not (bottleneck and blocks == (2, 2, 2, 2))
    if not valid or (blocks[2] == 23 and not bottleneck):
        raise ValueError(f"ResNet with {list(blocks)} blocks per stage; expected ResNet-18/34/50/101")
    if "backbone.stem.0.weight" in state:
        stem = "v1c"
    elif "backbone.conv1.0.weight" in state:
        stem = "deep"
    elif "backbone.conv1.weight" in state:
        stem = "torchvision"
    else:
        raise ValueError("no backbone stem weights (conv1 / stem.0); expected a ResNet backbone")
    if "head.cls.1.weight" in state:
        name, num_classes = "danet", int(state["head.cls.1.weight"].shape[0])
    elif "head.4.weight" in state:
        name, num_classes = "fcn", int(state["head.4.weight"].shape[0])
    else:
        raise ValueError("no classifier weights (head.cls.1 / conv8 / conv_seg); expected a DANet head")
    arch: dict[str, Any] = {"name": name, "depth": depths[blocks], "stem": stem, "num_classes": num_classes}
    arch["aux"] = "aux_head.0.weight" in state
    if arch["aux"]:
        arch["aux_channels"] = int(state["aux_head.0.weight"].shape[0])
    return arch


def layout_config(source: str, arch: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """ModelConfig fields of an imported checkpoint: layout defaults < inferred ``arch`` < ``options``.

    Raises ValueError for what the layout's own code cannot compute, so an import is exact or refused:
    mmseg gives layer4 block i the dilation ``multi_grid[i]``, so its multi-grid needs one value per block.
    """
    fields = {**LAYOUT_DEFAULTS[source], **arch, **options}
    if arch["depth"] in (18, 34):
        fields.setdefault("basic_conv2_dilation", BASIC_CONV2[source])
    grid = fields.get("multi_grid")
    blocks = LAYER4_BLOCKS[arch["depth"]]
    if source == "mmseg" and grid is not None and len(tuple(grid)) != blocks:
        raise ValueError(
            f"multi_grid {tuple(grid)} for an mmseg ResNet-{arch['depth']}: mmseg needs one dilation per "
            f"layer4 block ({blocks} values)"
        )
    return fields
