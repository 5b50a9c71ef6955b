"""Decode, resize and re-encode one image. JPEGs are decoded at reduced scale (DCT scaling via
``Image.draft``) when the target allows, which is most of the CPU time a build saves."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

RESIZE_MODES = ("squash", "center_crop", "keep_ratio")
# JPEG DCT scaling goes down to the smallest 1/2, 1/4 or 1/8 scale that keeps both sides >= the
# target times this margin, and bicubic does the rest. 1.0 (decode to at least the target) gave a
# mean PSNR of about 47 dB against full decode + bicubic on the benchmark's 0.5-12 MP photos; a
# larger margin trades speed for fidelity on the images it keeps at a larger scale.
DRAFT_MARGIN = 1.0
# A decompression bomb is what Pillow refuses with its default settings: more than twice its default
# MAX_IMAGE_PIXELS (2 x 89,478,485). Between the two Pillow only warns, and the original kept those
# photos (89-179 megapixels; a JPEG among them decodes cheaply at 1/8 scale), so they are kept here.
PILLOW_DEFAULT_MAX_PIXELS = 89_478_485
BOMB_PIXELS = 2 * PILLOW_DEFAULT_MAX_PIXELS


class CorruptImage(ValueError):
    """Bytes that do not decode to a usable image; the message says why."""


@dataclass(frozen=True)
class ImageSettings:
    width: int = 224
    height: int = 224
    quality: int = 100  # the published shards: JPEG quality 100
    resize_mode: str = "squash"  # published: squash to W×H without keeping the aspect ratio
    reduced_decode: bool = True  # decode JPEGs at 1/2, 1/4 or 1/8 scale when that stays >= the target
    # JPEG chroma subsampling of the output: -1 = Pillow's default (4:2:0, what the original wrote),
    # 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0
    subsampling: int = -1
    draft_margin: float = DRAFT_MARGIN  # reduced decode stops at this multiple of the target side

    def __post_init__(self):
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, not {self.resize_mode!r}")
        if not (1 <= self.quality <= 100) or self.width < 1 or self.height < 1:
            raise ValueError("quality must be 1-100 and the size positive")
        if self.subsampling not in (-1, 0, 1, 2):
            raise ValueError("subsampling must be -1 (default), 0, 1 or 2")
        if self.draft_margin < 1.0:
            raise ValueError("draft_margin must be >= 1.0: the reduced decode never goes below the target")


def decode(data: bytes, settings: ImageSettings | None = None) -> Image.Image:
    """An RGB image, EXIF orientation applied; raises CorruptImage."""
    if not data:
        raise CorruptImage("zero bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # large, kept as the original did
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > BOMB_PIXELS:
                raise Image.DecompressionBombError(
                    f"{image.width}x{image.height} = {image.width * image.height} pixels, more than Pillow's default limit of {BOMB_PIXELS}")
            if settings is not None and settings.reduced_decode and image.format == "JPEG":
                # Pillow picks the largest 1/2, 1/4, 1/8 scale keeping BOTH sides >= the request; a
                # square request covers a swap of the sides by the EXIF orientation.
                side = int(max(settings.width, settings.height) * settings.draft_margin)
                image.draft("RGB", (side, side))
            image.load()
    except Image.DecompressionBombError as exc:
        raise CorruptImage(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise CorruptImage("not an image Pillow can identify") from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's parsers raise OSError, SyntaxError, struct.error, IndexError …
        raise CorruptImage(f"does not decode: {type(exc).__name__}: {exc}") from None
    try:
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy when there is nothing to turn
    except Exception:  # a broken EXIF block is no reason to lose the image
        pass
    try:
        return to_rgb(image)
    except (OSError, ValueError) as exc:
        raise CorruptImage(f"unsupported mode {image.mode}: {exc}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """RGBA, LA and palette images with transparency are composited on white; the rest converted."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    return image if image.mode == "RGB" else image.convert("RGB")


def fit(image: Image.Image, settings: ImageSettings) -> Image.Image:
    size = (settings.width, settings.height)
    if settings.resize_mode == "squash":
        return image.resize(size, Image.Resampling.BICUBIC)
    if settings.resize_mode == "center_crop":
        return ImageOps.fit(image, size, Image.Resampling.BICUBIC)
    return ImageOps.pad(image, size, Image.Resampling.BICUBIC, color=(0, 0, 0))


def encode(image: Image.Image, quality: int, subsampling: int = -1) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=subsampling)
    return out.getvalue()


# Bump when resize_image's output changes for the same input and settings (a new resampling step, a
# different colour conversion): rebuilds then decode again instead of reusing bytes the old code made.
RESIZE_CODE_VERSION = 1


def resize_image(data: bytes, settings: ImageSettings) -> bytes:
    """JPEG bytes of the image at W×H, RGB; raises CorruptImage for anything undecodable."""
    image = decode(data, settings)
    try:
        return encode(fit(image, settings), settings.quality, settings.subsampling)
    except (OSError, ValueError) as exc:  # e.g. a 1×40000 strip that rounds to an empty box
        raise CorruptImage(f"cannot resize {image.size[0]}x{image.size[1]} {image.mode}: {exc}") from None


def naive_resize(data: bytes, settings: ImageSettings) -> bytes:
    """The original's method, the benchmark's baseline: open, full decode, RGB, bicubic to W×H,
    JPEG. Kept apart from ``decode`` so that no change to the fast path moves the baseline."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return encode(fit(to_rgb(image), settings), settings.quality, settings.subsampling)
