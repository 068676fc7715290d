"""A corpus of bad inputs of our own, generated on demand (nothing is checked in).

Each generator writes files into a folder and returns ``{case name: path}``; the tests drive every case
through the entry points where it applies. Kinds: images (truncated, zero-byte, wrong extension, text
named .png, 16-bit, CMYK, EXIF-rotated, palette, decompression-bomb header, unicode and odd names),
masks (wrong size, values outside the label set, RGB, 16-bit), JSON (malformed, hostile sizes and
coordinates, wrong types) and checkpoints (foreign bytes, truncated, a pickle that would run code,
text).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 24, 16


def _rgb(seed: int = 0, w: int = W, h: int = H) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(w: int = 40000, h: int = 40000) -> bytes:
    """A valid PNG whose header claims w x h pixels (its data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    body = (
        _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )
    return b"\x89PNG\r\n\x1a\n" + body


def good_images(folder: Path, n: int = 3) -> dict[str, Path]:
    out = {}
    for i in range(n):
        p = folder / f"good{i}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb(i)).save(p)
        out[f"good{i}"] = p
    return out


def readable_images(folder: Path) -> dict[str, Path]:
    """Unusual but valid images: each must open as H x W x 3 uint8 (EXIF rotation applied)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    p = folder / "sixteen_bit.png"
    Image.fromarray(np.arange(W * H, dtype=np.uint16).reshape(H, W) * 97).save(p)
    out["16-bit"] = p
    p = folder / "cmyk.jpg"
    Image.fromarray(_rgb(1)).convert("CMYK").save(p)
    out["cmyk"] = p
    p = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the displayed image is H x W
    Image.fromarray(_rgb(2)).save(p, exif=exif)
    out["exif-rotated"] = p
    p = folder / "palette.png"
    Image.fromarray(_rgb(3)).convert("P").save(p)
    out["palette"] = p
    p = folder / "jpeg_named.png"  # wrong extension: the content decides
    buf = io.BytesIO()
    Image.fromarray(_rgb(4)).save(buf, format="JPEG")
    p.write_bytes(buf.getvalue())
    out["wrong-extension"] = p
    for name in ("ünïcødé 画像.png", "space name.png", "#hash%&.png"):
        p = folder / name
        Image.fromarray(_rgb(5)).save(p)
        out[f"name:{name}"] = p
    return out


def broken_images(folder: Path) -> dict[str, Path]:
    """Files named like images that cannot be decoded: each must give one error naming the file."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(_rgb(6)).save(buf, format="PNG")
    data = buf.getvalue()
    cases = {
        "truncated": ("truncated.png", data[: len(data) // 2]),
        "zero-byte": ("zero.png", b""),
        "text-as-png": ("text.png", b"this is not an image\n"),
        "bomb-header": ("bomb.png", bomb_png()),
    }
    out = {}
    for case, (name, payload) in cases.items():
        (folder / name).write_bytes(payload)
        out[case] = folder / name
    return out


def bad_masks(folder: Path) -> dict[str, Path]:
    """Mask files for W x H images that must be refused (named), never imported half-way."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = {
        "wrong-size": np.zeros((H + 1, W), np.uint8),
        "out-of-range": np.full((H, W), 200, np.uint8),
        "rgb": np.zeros((H, W, 3), np.uint8),
        "sixteen-bit": np.full((H, W), 300, np.uint16),
    }
    out = {}
    for i, (case, arr) in enumerate(cases.items()):
        p = folder / f"good{i % 3}.png" if i < 3 else folder / "sub" / "good0.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(p)
        out[case] = p
    return out


def hostile_labelme(folder: Path) -> dict[str, Path]:
    """labelme JSON files for the good images that must each be refused with a named error."""
    folder.mkdir(parents=True, exist_ok=True)
    poly = {"label": "Sky", "shape_type": "polygon", "points": [[0, 0], [5, 0], [5, 5]]}

    def doc(i: int, **changes: object) -> dict:
        base = {"imagePath": f"good{i}.png", "imageHeight": H, "imageWidth": W, "shapes": [poly]}
        return {**base, **changes}

    cases: dict[str, tuple[str, str]] = {
        "malformed": ("good0.json", "{ not json"),
        "huge-declared-size": ("good1.json", json.dumps(doc(1, imageHeight=100000, imageWidth=100000))),
        "nan-coordinates": (
            "good2.json",
            json.dumps(doc(2, shapes=[{**poly, "points": [[0, 0], [float("nan"), 1], [2, 2]]}])),
        ),
        "far-coordinates": (
            "a/good0.json",
            json.dumps(doc(0, shapes=[{**poly, "points": [[0, 0], [1e9, 1], [2, 2]]}])),
        ),
        "not-an-object": ("b/good1.json", json.dumps([1, 2, 3])),
        "unknown-label": ("c/good2.json", json.dumps(doc(2, shapes=[{**poly, "label": "Dragon"}]))),
        "points-wrong-type": ("d/good0.json", json.dumps(doc(0, shapes=[{**poly, "points": "oops"}]))),
    }
    out = {}
    for case, (name, text) in cases.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        out[case] = p
    return out


class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo the-payload-ran > /dev/null",))


def bad_checkpoints(folder: Path, good: Path | None = None) -> dict[str, Path]:
    """Files that load_model must refuse with one message naming them (no code ever runs)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    (folder / "foreign.pt").write_bytes(os.urandom(4096))
    out["foreign-bytes"] = folder / "foreign.pt"
    (folder / "notes.pth").write_text("a text file\n")
    out["text"] = folder / "notes.pth"
    torch.save({"state_dict": _Payload()}, folder / "payload.pt")
    out["code-pickle"] = folder / "payload.pt"
    (folder / "legacy.pt").write_bytes(pickle.dumps({"a": _Payload()}))
    out["legacy-code-pickle"] = folder / "legacy.pt"
    torch.save({"weights": torch.zeros(3)}, folder / "not_danet.pt")
    out["not-a-danet"] = folder / "not_danet.pt"
    if good is not None:
        data = good.read_bytes()
        (folder / "truncated.pt").write_bytes(data[: len(data) // 3])
        out["truncated"] = folder / "truncated.pt"
    return out


def bad_configs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cases = {
        "lr-text": "lr: abc\n",
        "batch-text": "batch_size: two\n",
        "lr-huge": "lr: 1000000\n",
        "unknown-key": "learning_rate: 0.01\n",
        "not-a-mapping": "- 1\n- 2\n",
        "malformed-yaml": "lr: [0.1\n",
    }
    out = {}
    for case, text in cases.items():
        p = folder / f"{case}.yaml"
        p.write_text(text)
        out[case] = p
    return out
