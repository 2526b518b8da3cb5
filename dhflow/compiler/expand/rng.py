"""A counter-based random stream on BLAKE2b, identical on every machine and release.

Why not `random`: the stdlib guarantees only `random()` for a given seed, and numpy's
streams have changed between releases. BLAKE2b is a fixed standard in hashlib: block i
of seed s is blake2b(s || i), eight 64-bit words, each giving a double in [0, 1) from its
top 53 bits. Changing this changes every sampled experiment: don't.
"""
from __future__ import annotations

import hashlib
import struct

_UNPACK = struct.Struct("<8Q").unpack
_SCALE = 2.0 ** -53


class Stream:
    """Uniform doubles in [0, 1) for a seed (and a stream name, to separate uses)."""

    __slots__ = ("_prefix", "_block", "_buf", "_pos")

    def __init__(self, seed: int, name: str = ""):
        self._prefix = hashlib.blake2b(f"dhflow/{name}/{seed}".encode(), digest_size=16).digest()
        self._block = 0
        self._buf: tuple[int, ...] = ()
        self._pos = 8

    def uniform(self) -> float:
        """The next double in [0, 1)."""
        if self._pos == 8:
            digest = hashlib.blake2b(self._prefix + self._block.to_bytes(8, "little"), digest_size=64).digest()
            self._buf = _UNPACK(digest)
            self._block += 1
            self._pos = 0
        x = self._buf[self._pos]
        self._pos += 1
        return (x >> 11) * _SCALE

    def uniforms(self, n: int) -> list[float]:
        """The next n doubles: what n calls of :meth:`uniform` give, whole blocks at a time."""
        out = []
        while n and self._pos < 8:  # the rest of the current block
            out.append(self.uniform())
            n -= 1
        blocks = n // 8
        if blocks:
            prefix, first = self._prefix, self._block
            raw = b"".join(hashlib.blake2b(prefix + (first + i).to_bytes(8, "little"), digest_size=64).digest()
                           for i in range(blocks))
            self._block = first + blocks
            scale = _SCALE
            out += [(x >> 11) * scale for x in struct.unpack(f"<{8 * blocks}Q", raw)]
        for _ in range(n - 8 * blocks):
            out.append(self.uniform())
        return out

    def below(self, n: int) -> int:
        """An integer uniform on 0..n-1 (n small: the bias of the float method is < 2**-40)."""
        return min(int(self.uniform() * n), n - 1)
