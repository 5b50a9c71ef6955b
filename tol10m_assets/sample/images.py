"""Synthetic photographs (texture, gradients, shapes: JPEG behaves as on real photos) and the
corruption zoo. Deterministic: every pixel comes from a seeded numpy generator."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

_TEXTURE = 128  # side of the tiled grain texture


def photo(rng: np.random.Generator, width: int, height: int, mode: str = "RGB", grain: float = 0.18) -> Image.Image:
    """A textured, photo-like image: a smooth colour field, fine grain and a few hard-edged shapes.

    Cheap at any size: the grain is one small seeded texture tiled from a random offset, and the
    colour field is a few dozen random pixels blown up; every step after that runs in Pillow's C code.
    """
    coarse = rng.integers(0, 256, size=(max(2, height // 96), max(2, width // 96), 3), dtype=np.uint8)
    field = Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BILINEAR)
    texture = rng.integers(0, 256, size=(_TEXTURE, _TEXTURE, 3), dtype=np.uint8)
    oy, ox = int(rng.integers(0, _TEXTURE)), int(rng.integers(0, _TEXTURE))
    reps = (-(-(height + oy) // _TEXTURE), -(-(width + ox) // _TEXTURE), 1)
    texture_tile = np.ascontiguousarray(np.tile(texture, reps)[oy : oy + height, ox : ox + width])
    image = Image.blend(field, Image.fromarray(texture_tile, "RGB"), grain)
    draw = ImageDraw.Draw(image)
    for _ in range(3):  # a few solid shapes give hard edges
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(4, min(width, height) // 12), max(5, min(width, height) // 4)))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=colour)
    if mode == "RGB":
        return image
    if mode == "RGBA":
        image = image.convert("RGBA")
        alpha = Image.fromarray(rng.integers(128, 256, size=(height, width), dtype=np.uint8), "L")
        image.putalpha(alpha)
        return image
    if mode == "P":
        return image.quantize(64, method=Image.Quantize.FASTOCTREE)  # an adaptive palette, fast
    return image.convert(mode)  # L, CMYK


def encode(image: Image.Image, fmt: str = "JPEG", exif_orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        kwargs = {"quality": 90}
        if exif_orientation:
            exif = Image.Exif()
            exif[0x0112] = exif_orientation
            kwargs["exif"] = exif.tobytes()
        image.save(out, "JPEG", **kwargs)
    else:
        image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims more pixels than Pillow's decompression-bomb limit allows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def large_photo(width: int = 10_000, height: int = 9_500, colour=(90, 140, 60)) -> bytes:
    """A real JPEG of ``width`` x ``height`` (95 megapixels by default: past Pillow's warning
    threshold, under its refusal limit), one flat colour so that it is small (1.5 MB)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=50)
    return out.getvalue()


def corrupt(kind: str, good_jpeg: bytes) -> bytes:
    """The corruption zoo: every kind must fail to decode."""
    if kind == "truncated":
        return good_jpeg[: len(good_jpeg) // 3]
    if kind == "zero_bytes":
        return b""
    if kind == "not_an_image":
        return b"<html><body>404 Not Found</body></html>\n" * 8
    if kind == "bomb":
        return decompression_bomb()
    raise ValueError(kind)


CORRUPT_WHY = {
    "truncated": "truncated JPEG",
    "zero_bytes": "zero bytes",
    "not_an_image": "non-image bytes named .jpg",
    "bomb": "dimensions past Pillow's decompression-bomb limit",
}
