"""CRC32C (Castagnoli), which Secret Manager uses to check a payload end to end.

`AddSecretVersion` accepts the checksum of the data it should store and refuses the request if what arrived does not
match; `AccessSecretVersion` returns it so a reader can check what it got. Pure Python so the function ships without a
compiled dependency; a secret is a few hundred bytes.
"""

from __future__ import annotations

_POLYNOMIAL = 0x82F63B78  # reflected Castagnoli polynomial


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
