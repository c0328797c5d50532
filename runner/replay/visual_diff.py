"""Per-pixel difference of two PNGs (a baseline and the image as taken now), with anti-aliasing tolerance.

The algorithm is pixelmatch's (github.com/mapbox/pixelmatch), vectorised with numpy:
- two pixels differ when their distance in YIQ colour space exceeds `COLOR_THRESHOLD` (0.1 of the largest
  possible; pixelmatch's default), which forgives a colour nudged by compression or blending;
- a differing pixel is *anti-aliasing* (not counted) when, in either image, it lies strictly between a darker
  and a brighter neighbour, has at most two neighbours of its own brightness (it sits on an edge, not in a flat
  area), and its darkest or brightest neighbour lies in a flat area (three or more identical neighbours) in
  both images. A glyph's edge drawn a sub-pixel further or with other smoothing is forgiven; a glyph changed,
  a line added, a colour changed in a flat area are not.

Masks: rectangles painted out (one colour) in both images before comparing. Images of different sizes are not
compared (`SizeMismatch`). The diff image shows the actual image faded to grey, differing pixels in red and
anti-aliased ones in yellow.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

COLOR_THRESHOLD = 0.1
MAX_YIQ_DELTA = 35215.0  # the largest squared YIQ distance (black against white)
FADE = 0.1  # how much of the actual image shows under the diff
DIFF_RGB = (255, 0, 0)
AA_RGB = (255, 255, 0)
MASK_RGB = (255, 0, 255)
# The 8 neighbours, in pixelmatch's order (x outer, y inner).
NEIGHBOURS = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0))

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Pixels = NDArray[np.uint8]


@dataclass(frozen=True)
class Rect:
    """A region in image pixels."""

    x: int
    y: int
    width: int
    height: int


class SizeMismatch(ValueError):
    """The two images are not the same size: they cannot be compared pixel by pixel."""

    def __init__(self, baseline: tuple[int, int], actual: tuple[int, int]) -> None:
        self.baseline, self.actual = baseline, actual
        super().__init__(f"the screenshot is {actual[0]}x{actual[1]} pixels but its baseline is "
                         f"{baseline[0]}x{baseline[1]}: not compared")


@dataclass(frozen=True)
class VisualDiff:
    differing: int  # pixels that differ, anti-aliasing not counted
    anti_aliased: int  # pixels that differ only by anti-aliasing
    width: int
    height: int
    diff_png: bytes

    @property
    def total(self) -> int:
        return self.width * self.height

    @property
    def ratio(self) -> float:
        return self.differing / self.total if self.total else 0.0

    def over(self, threshold: float, max_diff_pixels: int | None = None) -> bool:
        """More pixels differ than allowed: `max_diff_pixels` when given, else the `threshold` fraction."""
        if max_diff_pixels is not None:
            return self.differing > max_diff_pixels
        return self.differing > threshold * self.total


def decode_png(data: bytes) -> Pixels:
    """The image as an (height, width, 3) RGB array (transparency over white, as a page shows it)."""
    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def encode_png(pixels: Pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, format="PNG")
    return out.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _yiq(pixels: Pixels) -> tuple[Floats, Floats, Floats]:
    rgb = pixels.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = r * 0.29889531 + g * 0.58662247 + b * 0.11448223
    i = r * 0.59597799 - g * 0.27417610 - b * 0.32180189
    q = r * 0.21147017 - g * 0.52261711 + b * 0.31114694
    return y, i, q


def _shifted(values: NDArray[Any], dx: int, dy: int, fill: object) -> NDArray[Any]:
    """values[y + dy, x + dx] at every (y, x); `fill` where that is outside the image."""
    height, width = values.shape[:2]
    out = np.full_like(values, fill)
    ys_out = slice(max(0, -dy), height - max(0, dy))
    xs_out = slice(max(0, -dx), width - max(0, dx))
    ys_in = slice(max(0, dy), height - max(0, -dy))
    xs_in = slice(max(0, dx), width - max(0, -dx))
    out[ys_out, xs_out] = values[ys_in, xs_in]
    return out


def _many_siblings(pixels: Pixels) -> Bools:
    """Pixels with three or more identical neighbours (a pixel on the image's border counts one more, as in
    pixelmatch): they sit in a flat area."""
    height, width = pixels.shape[:2]
    packed = (pixels[..., 0].astype(np.int64) << 16) | (pixels[..., 1].astype(np.int64) << 8) | pixels[..., 2]
    count = np.zeros((height, width), dtype=np.int64)
    for dx, dy in NEIGHBOURS:
        count += _shifted(packed, dx, dy, -1) == packed
    border = np.zeros((height, width), dtype=bool)
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    return np.asarray(count + border > 2)


def _anti_aliased(brightness: Floats, flat_here: Bools, flat_there: Bools) -> Bools:
    """pixelmatch's `antialiased(img, x, y, other)` for every pixel of one image at once."""
    deltas = np.stack([_shifted(brightness, dx, dy, np.nan) - brightness for dx, dy in NEIGHBOURS])
    inside = ~np.isnan(deltas)
    zeroes = np.sum(inside & (deltas == 0), axis=0)
    darkest = np.nanargmin(np.where(inside, deltas, np.inf), axis=0)
    brightest = np.nanargmax(np.where(inside, deltas, -np.inf), axis=0)
    lowest = np.take_along_axis(np.where(inside, deltas, np.inf), darkest[None], axis=0)[0]
    highest = np.take_along_axis(np.where(inside, deltas, -np.inf), brightest[None], axis=0)[0]
    flat_both = flat_here & flat_there
    flat_at = np.stack([_shifted(flat_both, dx, dy, False) for dx, dy in NEIGHBOURS])
    darkest_flat = np.take_along_axis(flat_at, darkest[None], axis=0)[0]
    brightest_flat = np.take_along_axis(flat_at, brightest[None], axis=0)[0]
    return np.asarray((zeroes <= 2) & (lowest < 0) & (highest > 0) & (darkest_flat | brightest_flat))


def paint(pixels: Pixels, masks: Sequence[Rect]) -> Pixels:
    """A copy with each rectangle (clipped to the image) painted MASK_RGB."""
    out = pixels.copy()
    height, width = out.shape[:2]
    for rect in masks:
        x0, y0 = max(0, rect.x), max(0, rect.y)
        x1, y1 = min(width, rect.x + rect.width), min(height, rect.y + rect.height)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = MASK_RGB
    return out


def compare_images(baseline_png: bytes, actual_png: bytes, *, masks: Sequence[Rect] = ()) -> VisualDiff:
    """How the actual image differs from the baseline; SizeMismatch when their sizes differ."""
    baseline, actual = decode_png(baseline_png), decode_png(actual_png)
    if baseline.shape != actual.shape:
        raise SizeMismatch((baseline.shape[1], baseline.shape[0]), (actual.shape[1], actual.shape[0]))
    height, width = actual.shape[:2]
    if masks:
        baseline, actual = paint(baseline, masks), paint(actual, masks)
    y1, i1, q1 = _yiq(baseline)
    y2, i2, q2 = _yiq(actual)
    delta = 0.5053 * (y1 - y2) ** 2 + 0.299 * (i1 - i2) ** 2 + 0.1957 * (q1 - q2) ** 2
    changed = delta > MAX_YIQ_DELTA * COLOR_THRESHOLD ** 2
    if changed.any():
        flat_baseline, flat_actual = _many_siblings(baseline), _many_siblings(actual)
        aa = changed & (_anti_aliased(y1, flat_baseline, flat_actual) | _anti_aliased(y2, flat_actual, flat_baseline))
    else:
        aa = np.zeros_like(changed)
    counted = changed & ~aa
    # The actual image faded towards white, as grey, under the marks.
    grey = 255 + (y2 - 255) * FADE
    image = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    image[aa] = AA_RGB
    image[counted] = DIFF_RGB
    return VisualDiff(differing=int(counted.sum()), anti_aliased=int(aa.sum()), width=width, height=height,
                      diff_png=encode_png(image))
