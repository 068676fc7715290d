"""DANet (Fu et al., CVPR 2019) and the dilated-FCN baseline on dilated torchvision ResNets.

Public API: :func:`get_model`, :func:`build_model`, :class:`ModelConfig`, the keyword-only builders
:func:`danet_resnet` / :func:`fcn_resnet`, and the attention modules :class:`PAM` / :class:`CAM`.
"""

from __future__ import annotations

from danet_core.models.attention import CAM, PAM, cam_attention_matrix, pam_attention
from danet_core.models.backbone import BackboneWeightsError, DilatedResNet
from danet_core.models.config import DEPTHS, MODEL_NAMES, STEMS, ModelConfig
from danet_core.models.heads import DANetHead, FCNHead
from danet_core.models.segmenter import MODELS, Segmenter, build_model, danet_resnet, fcn_resnet, get_model

__all__ = [
    "CAM",
    "DEPTHS",
    "MODELS",
    "MODEL_NAMES",
    "PAM",
    "STEMS",
    "BackboneWeightsError",
    "DANetHead",
    "DilatedResNet",
    "FCNHead",
    "ModelConfig",
    "Segmenter",
    "build_model",
    "cam_attention_matrix",
    "danet_resnet",
    "fcn_resnet",
    "get_model",
    "pam_attention",
]
