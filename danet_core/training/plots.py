"""Loss and validation curves of run directories as a PNG: ``python -m danet_core.training.plots``.

matplotlib is a development dependency, imported only when a plot is drawn, so danet_core stays importable
without it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .layout import RunLayout, read_metrics


def plot_runs(run_dirs: list[Path], out: Path, *, labels: list[str] | None = None, title: str = "") -> None:
    """Left: training loss per logged iteration; right: validation mIoU per validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for i, rd in enumerate(run_dirs):
        recs = read_metrics(RunLayout.of(rd).metrics)
        name = labels[i] if labels else Path(rd).name
        train = [r for r in recs if r["type"] == "train"]
        val = [r for r in recs if r["type"] == "val"]
        ax_loss.plot(
            [r["iter"] for r in train], [r.get("loss_out", r["loss"]) for r in train], label=f"{name} (out)"
        )
        if train and "loss_pam" in train[0]:
            ax_loss.plot([r["iter"] for r in train], [r["loss"] for r in train], "--", alpha=0.6,
                         label=f"{name} (out+pam+cam)")  # fmt: skip
        ax_val.plot([r["iter"] for r in val], [r["miou"] for r in val], "o-", label=name)
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="training loss")
    ax_val.set(xlabel="iteration", ylabel="mIoU", title="validation mIoU")
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--labels", help="comma-separated legend names")
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    plot_runs(a.run_dirs, a.out, labels=a.labels.split(",") if a.labels else None, title=a.title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
