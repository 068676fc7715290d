"""``danet models list|download``: the public DANet checkpoints (:mod:`danet_core.zoo`).

``download`` puts the published file in the cache shared with the app (``danet models list`` prints
where), verifies it (sha256 prefix of mmseg's file name, checkpoint format) and with ``--out`` also writes
a native checkpoint with the architecture options the zoo knows (multi-grid, align_corners).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    models = subparsers.add_parser(
        "models", help="list or download the public pretrained DANet checkpoints", description=__doc__
    )
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lst = sub.add_parser("list", help="the zoo's entries with their facts")
    lst.add_argument("--long", action="store_true", help="one paragraph of facts per entry")
    lst.set_defaults(func=run_list)
    dl = sub.add_parser("download", help="download (resumable) and verify one entry into the cache")
    dl.add_argument("name", help="an entry name from `danet models list`")
    dl.add_argument("--url", default=None, help="download from this URL instead (a mirror)")
    dl.add_argument("--timeout", type=float, default=10.0, help="seconds without data before giving up")
    dl.add_argument("--out", type=Path, default=None, help="also write a native checkpoint here")
    dl.add_argument("--no-progress", action="store_true")
    dl.set_defaults(func=run_download)


def run_list(args: argparse.Namespace) -> int:
    from danet_core import zoo

    if args.long:
        for entry in zoo.ENTRIES:
            print(zoo.describe(entry) + "\n")
    else:
        print(f"{'name':44} {'dataset':34} {'mIoU':>6} {'ms+flip':>7} {'MB':>5}  cached")
        for e in zoo.ENTRIES:
            ms = f"{e.miou_ms_flip:.2f}" if e.miou_ms_flip is not None else "-"
            cached = "yes" if zoo.cached_file(e).is_file() else "no"
            print(f"{e.name:44} {e.dataset:34} {e.miou:6.2f} {ms:>7} {e.approx_mb:5.0f}  {cached}")
    print(f"cache: {zoo.cache_dir()}  (set {zoo.CACHE_ENV} to move it)")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from danet_core import zoo

    entry = zoo.get_entry(args.name)
    with tqdm(total=int(entry.approx_mb * 1e6), unit="B", unit_scale=True, disable=args.no_progress) as bar:

        def progress(done: int, total: int, _msg: str) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)  # tqdm redraws at most every 0.1 s

        path = zoo.fetch(entry, url=args.url, timeout=args.timeout, progress=progress)
    print(f"{path}: verified ({entry.name})")
    if args.out is not None:
        from danet_core.checkpoints import load_model, save_checkpoint

        model = load_model(path, source=entry.source)
        meta = model.meta
        save_checkpoint(args.out, model, classes=meta.classes, mean=meta.mean, std=meta.std, extra=meta.extra)
        print(f"{args.out}: native checkpoint of {entry.name}")
    return 0
