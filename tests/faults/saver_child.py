"""Child process of the kill test: saves masks through the project store's one save path, forever.

Protocol on stdout (one line each, flushed): ``ready``, then for every save ``saving <id> <value>``
before it starts and ``saved <id> <value>`` once ``save_mask`` returned (the save is reported durable).
"""

from __future__ import annotations

import random
import sys

import numpy as np

from danet_core.project import Project


def main(project_dir: str, seed: int) -> None:
    rng = random.Random(seed)
    with Project.open(project_dir) as project:
        records = project.images()
        sizes = {r.id: project.image_size(r.id) for r in records}
        stamps = {r.id: project.mask_stamp(r.id) for r in records}
        print("ready", flush=True)
        while True:
            image_id = rng.choice(records).id
            value = rng.randrange(0, 11)
            w, h = sizes[image_id]
            print(f"saving {image_id} {value}", flush=True)
            status = "reviewed" if value % 2 else None
            stamps[image_id] = project.save_mask(
                image_id, np.full((h, w), value, np.uint8), status=status, expected=stamps[image_id]
            )
            print(f"saved {image_id} {value}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
