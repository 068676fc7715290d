"""Advanced fine-tune settings: a checkable group that shows the automatic plan and lets the user
override it. Unchecked, the fields mirror the defaults (read-only) so the user sees what one click does;
checked, :meth:`FinetuneSettings.plan` returns the edited plan, validated by
``danet_core.training.finetune_plan.FinetunePlan`` (a ValueError names the bad field)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from danet_core.training.finetune_plan import DEPTHS, PRECISIONS, FinetunePlan


class FinetuneSettings(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Advanced settings (override the automatic choice)", parent)
        self.setCheckable(True)
        self.setChecked(False)
        self._base = FinetunePlan()
        self.depth = QComboBox()
        for d in DEPTHS:
            self.depth.addItem(f"ResNet-{d}", d)
        self.crop = QSpinBox(minimum=64, maximum=4096, singleStep=32, suffix=" px")
        self.batch = QSpinBox(minimum=1, maximum=64)
        self.iters = QSpinBox(minimum=1, maximum=200_000, singleStep=50)
        self.minutes = QDoubleSpinBox(minimum=0.0, maximum=7 * 24 * 60, decimals=1, suffix=" min")
        self.minutes.setSpecialValueText("no limit")
        self.lr = QDoubleSpinBox(minimum=0.00001, maximum=1.0, decimals=5, singleStep=0.001)
        self.val_fraction = QDoubleSpinBox(minimum=0.0, maximum=0.5, decimals=2, singleStep=0.05)
        self.device = QComboBox()
        self.device.addItems(["cpu", "cuda"])
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISIONS))
        self.init_from_active = QCheckBox("start from the active model")
        self.pretrained = QCheckBox("ImageNet backbone for a new model (cached or downloaded, else random)")
        form = QFormLayout(self)
        form.addRow("Backbone", self.depth)
        form.addRow("Crop", self.crop)
        form.addRow("Batch size", self.batch)
        form.addRow("Iterations (at most)", self.iters)
        form.addRow("Time budget", self.minutes)
        form.addRow("Learning rate", self.lr)
        form.addRow("Held-out share", self.val_fraction)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow(self.init_from_active)
        form.addRow(self.pretrained)
        self.minutes.setToolTip("Training stops at this time or at the iteration limit, whichever is first")
        self.val_fraction.setToolTip(
            "Share of the reviewed images held out to compare the old and the new model (by file name)"
        )

    def show_plan(self, plan: FinetunePlan) -> None:
        """Display ``plan`` (the automatic one, or saved overrides)."""
        self._base = plan
        self.depth.setCurrentIndex(max(0, self.depth.findData(plan.depth)))
        self.crop.setValue(plan.crop)
        self.batch.setValue(plan.batch_size)
        self.iters.setValue(plan.max_iters)
        self.minutes.setValue(0.0 if plan.max_time_s is None else plan.max_time_s / 60.0)
        self.lr.setValue(plan.lr)
        self.val_fraction.setValue(plan.val_fraction)
        base_device = plan.device.split(":")[0]
        self.device.setCurrentText(base_device if base_device in ("cpu", "cuda") else "cpu")
        self.precision.setCurrentText(plan.precision)
        self.init_from_active.setChecked(plan.init_from_active)
        self.pretrained.setChecked(plan.pretrained_backbone)

    def is_overriding(self) -> bool:
        return self.isChecked()

    def plan(self) -> FinetunePlan:
        """The plan to train with: the automatic one when not overriding, else the edited, validated one."""
        if not self.isChecked():
            return self._base
        minutes = self.minutes.value()
        return self._base.with_overrides(
            depth=int(self.depth.currentData()),
            crop=int(self.crop.value()),
            batch_size=int(self.batch.value()),
            max_iters=int(self.iters.value()),
            max_time_s=None if minutes <= 0 else round(minutes * 60.0, 1),
            lr=float(self.lr.value()),
            val_fraction=float(self.val_fraction.value()),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            init_from_active=self.init_from_active.isChecked(),
            pretrained_backbone=self.pretrained.isChecked(),
        )
