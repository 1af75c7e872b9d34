"""Draw the Teams app icons with the standard library only (zlib + struct), so they can be
regenerated anywhere: `python teams/make_icons.py`.

- color.png    192x192, the symbol in white on the accent colour
- outline.png  32x32, the symbol in white on a transparent background (Teams' requirement)

The symbol is a ring with a check mark: something tracked until it is done.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

ACCENT = (0x2E, 0x6F, 0x8E)  # also the manifest's accentColor
SUPERSAMPLE = 4  # samples per pixel side, for smooth edges


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _inside(x: float, y: float, scale: float) -> bool:
    """Is the point (in 0..1 units of the symbol's box) on the symbol?"""
    stroke = 0.11 * scale
    ring = abs(math.hypot(x - 0.5, y - 0.5) - 0.42) <= stroke / 2
    check = min(_segment_distance(x, y, (0.29, 0.52), (0.44, 0.67)),
                _segment_distance(x, y, (0.44, 0.67), (0.72, 0.36))) <= stroke / 2
    return ring or check


def coverage(size: int, margin: float, weight: float = 1.0) -> list[list[float]]:
    """How much of each pixel the symbol covers (0..1), the symbol inset by `margin` pixels."""
    box = size - 2 * margin
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            hits = 0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    x = (px + (sx + 0.5) / SUPERSAMPLE - margin) / box
                    y = (py + (sy + 0.5) / SUPERSAMPLE - margin) / box
                    hits += _inside(x, y, weight)
            row.append(hits / SUPERSAMPLE ** 2)
        rows.append(row)
    return rows


def png(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    """An 8-bit RGBA PNG; every row uses filter type 0 (none)."""
    height, width = len(pixels), len(pixels[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(v for pixel in row for v in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def color_icon() -> bytes:
    # The symbol sits in the central 120x120 px, where Teams never crops it.
    cover = coverage(192, margin=36)
    return png([[tuple(round(c + (255 - c) * a) for c in ACCENT) + (255,) for a in row]
                for row in cover])


def outline_icon() -> bytes:
    cover = coverage(32, margin=1.5, weight=1.25)  # a little bolder, to survive 32 px
    return png([[(255, 255, 255, round(255 * a)) for a in row] for row in cover])


def main() -> None:
    here = Path(__file__).resolve().parent
    (here / "color.png").write_bytes(color_icon())
    (here / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":
    main()
