"""Small real images for upload tests, made here (no imaging library): PNG and JPEG bytes."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width: int = 186, height: int = 56) -> bytes:
    """A logo-like RGBA PNG: a teal disc and three bars beside it on a transparent ground."""
    rows = []
    radius = height // 2 - 4
    cx, cy = height // 2, height // 2
    for y in range(height):
        row = bytearray(b"\x00")  # filter: none
        for x in range(width):
            inside_disc = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
            bar = x > height + 4 and (x - height) % 46 < 34 and abs(y - cy) < 7 + (x // 46) * 3
            if inside_disc:
                row += bytes((13, 110, 110, 255))
            elif bar:
                row += bytes((40, 40, 48, 255))
            else:
                row += bytes((0, 0, 0, 0))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + _chunk(b"IEND", b"")
    )


def jpeg_start() -> bytes:
    """The first bytes of a JFIF file and a little more: what the content check looks at."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
