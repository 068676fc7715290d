"""The DANet training loss: cross-entropy on every output head, weighted and summed.

DANet's official code supervises the fused output and the PAM-only and CAM-only outputs with equal weights
(1/1/1); mmsegmentation adds the FCN auxiliary head on ResNet stage 3 at 0.4. A head the model does not
return (FCN has no pam/cam; aux is optional) is simply skipped, so one loss serves DANet and the FCN
baseline.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .class_balance import MaskSource, training_class_weights
from .config import TrainConfig

DEFAULT_WEIGHTS = {"out": 1.0, "pam": 1.0, "cam": 1.0, "aux": 0.4}


class SegLoss(nn.Module):
    """``forward(outputs: {name: B x K x h x w logits}, target: B x H x W int64) -> (total, {name: loss})``.

    Logits at a lower resolution than the target are upsampled bilinearly first (the models return
    logits at input size, but a custom model may not). Loss terms are computed in float32 even under
    autocast, so fp16 logits cannot overflow the sum.
    """

    class_weights: torch.Tensor | None  # a (non-persistent) buffer, registered in __init__

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        *,
        class_weights: list[float] | torch.Tensor | None = None,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        cw = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", cw, persistent=False)
        self.ignore_index = ignore_index

    def forward(
        self, outputs: dict[str, torch.Tensor], target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms: dict[str, torch.Tensor] = {}
        total: torch.Tensor | None = None
        for name, logits in outputs.items():
            w = self.weights.get(name, 0.0)
            if w == 0.0:
                continue
            if self.class_weights is not None and self.class_weights.numel() != logits.shape[1]:
                raise ValueError(
                    f"class_weights has {self.class_weights.numel()} values; the model predicts "
                    f"{logits.shape[1]} classes"
                )
            if logits.shape[-2:] != target.shape[-2:]:
                logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
            loss = F.cross_entropy(
                logits.float(), target, weight=self.class_weights, ignore_index=self.ignore_index
            )
            terms[name] = loss.detach()
            total = loss * w if total is None else total + loss * w
        if total is None:
            raise ValueError(f"the model returned none of the supervised outputs {sorted(self.weights)}")
        return total, terms


def run_class_weights(cfg: TrainConfig, train_set: MaskSource, num_classes: int) -> list[float] | None:
    """The run's class weights: ``cfg.class_weights`` as given, or computed from the training masks when
    ``cfg.class_weight_power`` > 0 (:func:`danet_core.training.class_balance.training_class_weights`)."""
    if cfg.class_weights is None and cfg.class_weight_power > 0:
        return training_class_weights(train_set, num_classes, cfg.class_weight_power)
    return cfg.class_weights
