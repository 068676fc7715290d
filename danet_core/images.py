"""Image and mask files: reading any image as one ``uint8`` RGB array, PNG encoding, index masks.

Why one module: every image must arrive as the same ``uint8`` H x W x 3 RGB array whatever its file holds
(EXIF rotation, grayscale, RGBA, 16-bit, palette), and every mask is a lossless 8-bit index PNG written
atomically through :func:`danet_core.files.atomic_write_bytes`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from danet_core.files import atomic_write_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# 8000 x 6000 must open; PIL's default guard (~89 Mpx) is kept at a higher, still finite value so a
# decompression bomb is refused with a clear error.
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageReadError(ValueError):
    """An image file that cannot be read (missing, truncated, not an image)."""


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=1))
        arr = ((arr - lo) / max(hi - lo, 1e-12) * 255.0 + 0.5).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image as ``uint8`` H x W x 3 RGB, EXIF orientation applied.

    Grayscale, palette, RGBA (composited on black), 16-bit and float images are converted.
    Raises :class:`ImageReadError` naming the file when it is missing, truncated or not an image.
    """
    p = Path(path)
    try:
        with Image.open(p) as opened:
            opened.load()
            img = ImageOps.exif_transpose(opened)
            return _to_rgb_uint8(img)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p}: no such image file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{p}: cannot read image ({exc}); expected a readable image file") from exc


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) after EXIF orientation, from the header only (no decoding)."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(
            f"{p}: the image header claims more than {MAX_PIXELS // 1_000_000} Mpx ({exc}); "
            "expected an image within the size limit (a decompression bomb is refused)"
        ) from exc
    except (FileNotFoundError, UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{p}: cannot read image header ({exc})") from exc
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def encode_png(
    array: np.ndarray,
    *,
    palette: np.ndarray | None = None,
    compress_level: int = 1,
    text: dict[str, str] | None = None,
) -> bytes:
    """PNG bytes of a uint8 (H x W or H x W x 3) or uint16 (H x W) array; optional 256x3 palette and
    ``text`` chunks (the project stores each mask's image path in its mask, see ``png_text``)."""
    if array.dtype == np.uint16:
        # Pillow >= 11 infers "I;16" from a native uint16 array (the mode= argument is refused)
        img = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint16))
    elif array.dtype == np.uint8:
        img = Image.fromarray(array)
    else:
        raise ValueError(f"cannot encode a {array.dtype} array as PNG; expected uint8 or uint16")
    if palette is not None:
        if array.ndim != 2:
            raise ValueError("a palette PNG needs a 2-D index array")
        img = img.convert("L")
        img.putpalette(np.asarray(palette, dtype=np.uint8).reshape(-1).tolist())
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level, pnginfo=info)
    return buf.getvalue()


def png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text chunks of a PNG (empty when it has none or cannot be read)."""
    try:
        with Image.open(path) as img:
            img.load()
            return {str(k): str(v) for k, v in getattr(img, "text", {}).items()}
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return {}


def atomic_save_png(path: str | os.PathLike[str], array: np.ndarray, **kwargs: Any) -> None:
    """Atomically write ``array`` as a lossless PNG (see :func:`encode_png`)."""
    atomic_write_bytes(path, encode_png(array, **kwargs))


def load_mask_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an 8-bit index mask (L or P mode PNG: the indices, not the palette colours)."""
    p = Path(path)
    try:
        with Image.open(p) as img:
            img.load()
            if img.mode not in ("L", "P", "I;16", "I"):
                raise ImageReadError(f"{p}: mask has mode {img.mode}; expected an 8-bit index PNG")
            arr = np.array(img)  # a writable copy: callers edit masks in place
    except FileNotFoundError as exc:
        raise ImageReadError(f"{p}: no such mask file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageReadError(f"{p}: cannot read mask ({exc})") from exc
    if arr.dtype != np.uint8:
        if arr.max(initial=0) > 255:
            raise ImageReadError(f"{p}: mask values up to {arr.max()}; expected 8-bit indices")
        arr = arr.astype(np.uint8)
    return arr
