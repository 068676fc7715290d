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
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.model.finetune_eval import Comparison, compare_on_heldout, decide, describe
from app.model.finetune_plan import FinetunePlan, default_plan, to_train_config
from app.model.finetune_run import CONFIG_FILE, RunOutcome
from app.model.review_queue import format_effort, project_effort
from app.workers.base import FunctionWorker
from app.workers.finetune import FinetuneWorker, train_command

log = logging.getLogger(__name__)


def _resolve_device(name: str) -> str:
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class FinetuneController(QObject):
    """Connects the fine-tune panel, the training child process and the project's model versions."""

    message = Signal(str)  # status-bar text
    error = Signal(str, str)  # message, details
    run_finished = Signal(object)  # RunOutcome of a run that produced a checkpoint
    model_activated = Signal(int)  # version id

    def __init__(
        self, session: Any, presegment: Any, panel: Any, settings: Any, parent: QObject | None = None
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
        panel.start_requested.connect(self.start)
        panel.cancel_requested.connect(self.cancel)
        panel.resume_requested.connect(self.resume)
        panel.activate_requested.connect(self.activate_version)
        session.project_opened.connect(lambda _p: self.refresh())
        session.project_closed.connect(self._on_project_closed)
        session.image_saved.connect(lambda _i: self.refresh())
        session.model_changed.connect(self.refresh)
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
    def project(self) -> Any:
        return self.session.project

    def is_running(self) -> bool:
        return (self.worker is not None and self.worker.is_running()) or (
            self.evaluator is not None and self.evaluator.is_running()
        )

    def plan(self) -> FinetunePlan:
        """The plan one click trains with (raises ValueError when there is nothing to train on)."""
        project = self.project
        if project is None:
            raise ValueError("open a project first")
        reviewed = project.images(status="reviewed")
        active = project.active_model_version()
        depth = None
        if active is not None:  # versions made here record their plan: no checkpoint read on the GUI thread
            depth = (active.metrics.get("plan") or {}).get("depth") or _active_depth(active.path)
        sides = [min(r.width, r.height) for r in reviewed if r.width and r.height]
        base = default_plan(
            len(reviewed),
            device=_resolve_device(getattr(self.settings, "device", "auto")),
            active_depth=depth,
            min_image_side=min(sides) if sides else None,
        )
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
            self.panel.set_plan(self.plan(), reviewed, effort)
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
        change = _label_set_change(active.path, project.label_set) if active is not None else ""
        if change and plan.init_from_active:
            question = (
                f"The project's classes changed since model v{active.id} was trained ({change}). "
                f"Fine-tuning starts from v{active.id}'s features with a new classifier; v{active.id} "
                "stays available. Continue?"
            )
            if not self.ask(question):
                return False
        run_dir = project.project_dir / "finetune" / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
        suffix = 1
        while run_dir.exists():
            run_dir = run_dir.with_name(f"{run_dir.name.split('~')[0]}~{suffix}")
            suffix += 1
        try:
            run_dir.mkdir(parents=True)
            cfg = to_train_config(
                plan,
                project_dir=project.project_dir,
                run_dir=run_dir,
                init_checkpoint=active.path if active is not None else None,
            )
            cfg.save_json(run_dir / CONFIG_FILE)
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
        if not (self.last_run / "checkpoints" / "last.pt").is_file():
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
        worker.finished.connect(self._on_trained)
        worker.failed.connect(self._on_failed)
        self.worker = worker
        self.panel.start_run(("Resuming: " if resume else "Fine-tuning: ") + plan.describe())
        self.message.emit("Fine-tuning in a separate process; you can keep editing.")
        worker.start()

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
            outcome.run_dir / CONFIG_FILE,
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

    def _on_compared(self, outcome: RunOutcome, active: Any, cmp: Comparison) -> None:
        self.last_comparison = cmp
        self.panel.set_running(False)
        project = self.project
        if project is None:
            return
        reviewed = len(project.images(status="reviewed"))
        metrics = {
            "heldout_miou": cmp.new_miou,
            "previous_miou": cmp.old_miou,
            "previous_version": active.id if active is not None else None,
            "heldout_images": cmp.heldout_images,
            "reviewed_images": reviewed,
            "iterations": outcome.iterations,
            "run_dir": str(outcome.run_dir),
            "plan": (self._plan or FinetunePlan()).to_dict(),
            "note": cmp.note,
        }
        try:
            version = project.add_model_version(
                outcome.checkpoint, metrics=metrics, parent=active.id if active is not None else None
            )
        except (OSError, ValueError) as exc:
            self.panel.set_result(f"Could not store the new model: {exc}. The active model is unchanged.")
            self.error.emit(str(exc), "")
            return
        text = describe(cmp)
        verdict = decide(cmp, has_previous=active is not None)
        use = verdict == "use"
        if not use:
            use = self.ask(f"{text}.\n\nMake the new model (v{version.id}) the active one anyway?")
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


_META_CACHE: dict[tuple[str, float], dict] = {}


def _checkpoint_meta(path: Path) -> dict:
    """Classes and model config of a checkpoint, read once per file version (project model files are
    never rewritten in place, so the panel's refresh after every autosave does not re-read them)."""
    from danet_core.checkpoints import load_checkpoint

    key = (str(path), path.stat().st_mtime)
    if key not in _META_CACHE:
        data = load_checkpoint(path)
        _META_CACHE[key] = {"classes": data.get("classes") or [], "config": data.get("config") or {}}
    return _META_CACHE[key]


def _active_depth(path: Path) -> int | None:
    try:
        depth = _checkpoint_meta(path)["config"].get("depth")
    except (OSError, ValueError) as exc:
        log.warning("cannot read the active model %s: %s", path, exc)
        return None
    return int(depth) if depth else None


def _label_set_change(path: Path, label_set: Any) -> str:
    """ "" when the model predicts exactly the project's train classes, else what differs."""
    try:
        names = [c["name"] for c in _checkpoint_meta(path)["classes"]]
    except (OSError, ValueError) as exc:
        return f"its checkpoint cannot be read: {exc}"
    wanted = [c.name for c in label_set.train_classes()]
    if names == wanted:
        return ""
    added = [n for n in wanted if n not in names]
    removed = [n for n in names if n not in wanted]
    parts = []
    if added:
        parts.append("added: " + ", ".join(added[:6]) + (" …" if len(added) > 6 else ""))
    if removed:
        parts.append("removed: " + ", ".join(removed[:6]) + (" …" if len(removed) > 6 else ""))
    return "; ".join(parts) or "classes reordered"
