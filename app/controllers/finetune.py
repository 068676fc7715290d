"""Fine-tune controller: one click from reviewed masks to a better active model.

Flow: ``start()`` checks the project (reviewed images, label-set change), writes the run's
``config.json`` under ``<project>/finetune/run-<time>/`` and starts a :class:`FinetuneWorker` child
process; its records feed the panel (progress with ETA, curves). When the run ends with a checkpoint,
old and new models are scored on the held-out reviewed images in a background thread
(:func:`app.model.finetune_eval.compare_on_heldout`); the new checkpoint becomes a project model version
with its metrics and is made active when it is better (or the user agrees); then
``PresegmentController.reload_model()`` re-pre-segments the unreviewed images in the background.

Faults never touch the active model or the masks: a killed child, a NaN loss, a full disk or a cancel
leave the run folder with its last checkpoint, and Resume continues it (``danet train --resume``).
Dialogs go through :meth:`ask` / :meth:`inform` so tests (and a headless session) can answer them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.controllers.presegment import PresegmentController
from app.controllers.session import SessionController
from app.model.devices import DeviceInfo
from app.model.finetune_eval import Comparison, compare_on_heldout, describe, guard_reason
from app.model.finetune_run import RunOutcome
from app.model.finetune_setup import (
    CheckpointMetaCache,
    new_run_dir,
    project_plan,
    version_label_set_change,
    version_metrics,
)
from app.model.review_queue import format_effort, project_effort
from app.model.settings import AppSettings
from app.widgets.finetune_panel import FinetunePanel
from app.workers.base import FunctionWorker
from app.workers.finetune import FinetuneWorker, train_command
from danet_core.options import DEVICE_AUTO
from danet_core.project import ModelVersion, Project
from danet_core.training.finetune_plan import FinetunePlan, expected_quality, to_train_config
from danet_core.training.layout import RunLayout

log = logging.getLogger(__name__)


class FinetuneController(QObject):
    """Connects the fine-tune panel, the training child process and the project's model versions."""

    message = Signal(str)  # status-bar text
    error = Signal(str, str)  # message, details
    run_finished = Signal(object)  # RunOutcome of a run that produced a checkpoint
    model_activated = Signal(int)  # version id

    def __init__(
        self,
        session: SessionController,
        presegment: PresegmentController,
        panel: FinetunePanel,
        settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.presegment = presegment
        self.panel = panel
        self.settings = settings
        self.worker: FinetuneWorker | None = None
        self.evaluator: FunctionWorker | None = None
        self.last_run: Path | None = None
        self.last_comparison: Comparison | None = None
        self._plan: FinetunePlan | None = None
        self._parent_version: int | None = None
        self.devices: DeviceInfo | None = None  # from the window's start-up probe (set_devices)
        self._backbone_said: Path | None = None  # the run whose backbone start was already reported
        self.checkpoint_meta = CheckpointMetaCache()
        panel.start_requested.connect(self.start)
        panel.cancel_requested.connect(self.cancel)
        panel.resume_requested.connect(self.resume)
        panel.activate_requested.connect(self.activate_version)
        session.project_opened.connect(lambda _p: self.refresh())
        session.project_closed.connect(self._on_project_closed)
        session.image_saved.connect(lambda _i: self.refresh())
        session.records_changed.connect(self.refresh)
        presegment.model_changed.connect(self.refresh)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- dialogs (replaceable in tests) -----------------------------------------------------------
    def _dialog_parent(self) -> QWidget | None:
        return self.panel.window() if isinstance(self.panel, QWidget) else None

    def ask(self, text: str) -> bool:
        reply = QMessageBox.question(self._dialog_parent(), "Fine-tune", text)
        return reply == QMessageBox.StandardButton.Yes

    def inform(self, text: str) -> None:
        QMessageBox.information(self._dialog_parent(), "Fine-tune", text)

    # -- state ------------------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.session.project

    def device(self) -> str:
        """The device a run trains on: the app's device setting with "auto" resolved by the start-up
        probe (never by importing torch here, on the GUI thread). ValueError until the probe answered."""
        if self.settings.device != DEVICE_AUTO:
            return self.settings.device
        if self.devices is None:
            raise ValueError("Checking for a GPU …")
        return self.devices.resolve(self.settings.device)

    def set_devices(self, devices: DeviceInfo) -> None:
        self.devices = devices
        self.refresh()

    def is_running(self) -> bool:
        return (self.worker is not None and self.worker.is_running()) or (
            self.evaluator is not None and self.evaluator.is_running()
        )

    def plan(self) -> FinetunePlan:
        """The plan one click trains with (raises ValueError when there is nothing to train on)."""
        project = self.project
        if project is None:
            raise ValueError("open a project first")
        base = project_plan(project, device=self.device(), cache=self.checkpoint_meta)
        if self.panel.settings.is_overriding():
            return self.panel.settings.plan()
        return base

    def refresh(self) -> None:
        """Re-read the project: plan line, effort figures, model versions."""
        project = self.project
        if project is None:
            return
        records = project.images()
        reviewed = sum(1 for r in records if str(r.status) == "reviewed")
        effort = format_effort(project_effort(records))
        try:
            plan = self.plan()
            self.panel.set_plan(plan, reviewed, effort, expected_quality(plan, reviewed))
        except ValueError as exc:
            self.panel.summary.setText(f"{effort}\n{exc}")
        active = project.active_model_version()
        self.panel.set_versions(project.model_versions(), active.id if active else None)

    # -- start / resume / cancel --------------------------------------------------------------------
    def start(self) -> bool:
        """The Fine-tune action. Returns True when a run started."""
        if self.is_running():
            self.message.emit("A fine-tune run is already in progress.")
            return False
        project = self.project
        if project is None:
            self.inform("Open a project first.")
            return False
        try:
            plan = self.plan()
        except ValueError as exc:
            self.inform(str(exc))
            return False
        active = project.active_model_version()
        change = version_label_set_change(active, project.label_set, self.checkpoint_meta) if active else ""
        if change and plan.init_from_active:
            question = (
                f"The project's classes changed since model v{active.id} was trained ({change}). "
                f"Fine-tuning starts from v{active.id}'s features with a new classifier; v{active.id} "
                "stays available. Continue?"
            )
            if not self.ask(question):
                return False
        run_dir = new_run_dir(project.project_dir)
        try:
            run_dir.mkdir(parents=True)
            cfg = to_train_config(
                plan,
                project_dir=project.project_dir,
                run_dir=run_dir,
                init_checkpoint=active.path if active is not None else None,
            )
            cfg.save_json(RunLayout(run_dir).config)
        except (OSError, ValueError) as exc:
            self.inform(f"Cannot prepare the fine-tune run in {run_dir}: {exc}")
            return False
        self._plan = plan
        self._parent_version = active.id if active is not None else None
        self._launch(run_dir, plan, resume=False)
        return True

    def resume(self) -> bool:
        """Continue the last stopped or failed run from its ``last.pt``."""
        if self.is_running() or self.last_run is None:
            return False
        if not RunLayout(self.last_run).last.is_file():
            self.inform(f"{self.last_run} has no checkpoint to resume from; start a new fine-tune.")
            return False
        plan = self._plan or FinetunePlan()
        self._launch(self.last_run, plan, resume=True)
        return True

    def _launch(self, run_dir: Path, plan: FinetunePlan, *, resume: bool) -> None:
        self.last_run = run_dir
        args = train_command(run_dir, resume=resume) + ["--no-progress"]
        worker = FinetuneWorker(run_dir, max_iters=plan.max_iters, max_time_s=plan.max_time_s, args=args)
        worker.progress.connect(self.panel.set_progress)
        worker.record.connect(self.panel.add_record)
        worker.record.connect(self._say_backbone)
        worker.finished.connect(self._on_trained)
        worker.failed.connect(self._on_failed)
        self.worker = worker
        self.panel.start_run(("Resuming: " if resume else "Fine-tuning: ") + plan.describe())
        self.message.emit("Fine-tuning in a separate process; you can keep editing.")
        worker.start()

    def _say_backbone(self, record: dict) -> None:
        """Said once per run, plainly: a new model that could not get ImageNet weights starts random."""
        init = record.get("backbone_init")
        if record.get("type") != "train" or init is None or self._backbone_said == self.last_run:
            return
        self._backbone_said = self.last_run
        if init == "random" and (self._plan is None or self._plan.pretrained_backbone):
            self.message.emit(
                "No ImageNet backbone weights here (offline, not in the torch cache): the new model starts "
                "from random weights, so expect a rougher first model."
            )
            self.panel.set_status("Backbone: random weights (no ImageNet weights available)")
        elif init.startswith("imagenet"):
            self.panel.set_status(f"Backbone: {init.split(':', 1)[1]} (ImageNet)")

    def cancel(self) -> None:
        if self.worker is not None and self.worker.is_running():
            self.panel.set_status("Stopping at the next iteration …")
            self.worker.cancel()
        elif self.evaluator is not None and self.evaluator.is_running():
            self.evaluator.cancel()

    def shutdown(self) -> None:
        """App exit: stop the child now (its last checkpoint stays for a later Resume)."""
        if self.worker is not None and self.worker.is_running():
            self.worker.kill()
            self.worker.wait(5000)

    def _on_project_closed(self) -> None:
        if self.worker is not None and self.worker.is_running():
            self.worker.cancel()

    # -- end of a run -------------------------------------------------------------------------------
    def _on_failed(self, message: str, details: str) -> None:
        outcome = self.worker.last_outcome if self.worker is not None else None
        self.panel.set_running(False)
        self.panel.set_resume_available(bool(outcome and outcome.can_resume))
        self.panel.set_result(message)
        self.error.emit(message, details)

    def _on_trained(self, outcome: RunOutcome) -> None:
        self.run_finished.emit(outcome)
        self.panel.set_status(outcome.message)
        if outcome.status == "stopped":
            self.panel.set_running(False)
            self.panel.set_resume_available(outcome.can_resume)
            self.panel.set_result("Stopped. The last checkpoint is kept; Resume continues the run.")
            return
        project = self.project
        if project is None or outcome.checkpoint is None:
            self.panel.set_running(False)
            return
        active = project.active_model_version()
        old = active.path if active is not None else None
        worker = FunctionWorker(
            compare_on_heldout,
            RunLayout(outcome.run_dir).config,
            outcome.checkpoint,
            old,
            name="compare models",
        )
        worker.progress.connect(self.panel.set_progress)
        worker.finished.connect(lambda cmp, o=outcome, a=active: self._on_compared(o, a, cmp))
        worker.failed.connect(self._on_compare_failed)
        worker.cancelled.connect(lambda: self.panel.set_running(False))
        self.evaluator = worker
        self.panel.set_status("Comparing the new and the previous model on the held-out images …")
        worker.start()

    def _on_compare_failed(self, message: str, details: str) -> None:
        self.panel.set_running(False)
        self.panel.set_result(f"Could not compare the models: {message}. The active model is unchanged.")
        self.error.emit(message, details)

    def _on_compared(self, outcome: RunOutcome, active: ModelVersion | None, cmp: Comparison) -> None:
        self.last_comparison = cmp
        self.panel.set_running(False)
        project = self.project
        if project is None:
            return
        metrics = version_metrics(
            cmp,
            outcome,
            self._plan or FinetunePlan(),
            previous=active,
            reviewed_images=len(project.images(status="reviewed")),
            classes=[c.name for c in project.label_set.train_classes()],
        )
        try:
            version = project.add_model_version(
                outcome.checkpoint, metrics=metrics, parent=active.id if active is not None else None
            )
        except (OSError, ValueError) as exc:
            self.panel.set_result(f"Could not store the new model: {exc}. The active model is unchanged.")
            self.error.emit(str(exc), "")
            return
        text = describe(cmp)
        plan = self._plan or FinetunePlan()
        reason = guard_reason(cmp, has_previous=active is not None, val_fraction=plan.val_fraction)
        use = not reason
        if not use:
            use = self.ask(
                f"{text}.\n\nThe new model (v{version.id}) is not made active by itself: {reason}. "
                "Make it the active one anyway? (It would pre-segment every image that is not reviewed.)"
            )
        if use:
            self._activate(version.id)
            self.panel.set_result(f"{text}. Now pre-segmenting with v{version.id}.")
        else:
            self.panel.set_result(
                f"{text}. Kept v{active.id if active else '—'}; v{version.id} is in the versions list."
            )
        self.refresh()

    # -- versions -------------------------------------------------------------------------------------
    def activate_version(self, version_id: int) -> None:
        """Rollback (or forward) to a stored version, then re-pre-segment unreviewed images."""
        if self.project is None:
            return
        try:
            self._activate(version_id)
        except (OSError, ValueError) as exc:
            self.inform(f"Cannot activate model version {version_id}: {exc}")
            return
        self.panel.set_result(f"Model v{version_id} is active; unreviewed images are pre-segmented again.")
        self.refresh()

    def _activate(self, version_id: int) -> None:
        self.project.set_active_model(version_id)
        log.info("active model is now version %d", version_id)
        self.presegment.reload_model()
        self.model_activated.emit(version_id)
