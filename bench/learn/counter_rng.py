"""Counter-based random numbers: a draw is a pure function of (key, counters, index).

Seed-batched training needs every seed's randomness to be independent of which
other seeds share its batch. A stateful generator cannot give that once the
batch is stepped together: a seed whose episodes ended keeps stepping (masked)
while the others finish, and would consume its stream at a rate set by its
neighbours. Here a draw is instead addressed like an array element, by
``(seed key, update, step, element)``, and computed with splitmix64 (Steele,
Lea and Flood, 2014) in int64 tensor arithmetic. The result is the same on every
device and batch layout (integer operations are exact), so a seed run alone and
the same seed inside a batch of 1024 see identical numbers.
"""

from __future__ import annotations

import math

import torch

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """A 64-bit constant as the int64 with the same bits."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MUL1 = _signed(0xBF58476D1CE4E5B9)
_MUL2 = _signed(0x94D049BB133111EB)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (``>>`` on int64 is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    """The splitmix64 finaliser of ``x + golden``, elementwise on an int64 tensor (wrapping arithmetic)."""
    z = x + _GOLDEN
    z = (z ^ _shift_right(z, 30)) * _MUL1
    z = (z ^ _shift_right(z, 27)) * _MUL2
    return z ^ _shift_right(z, 31)


def mix(key: torch.Tensor, counter: int | torch.Tensor) -> torch.Tensor:
    """A new key from ``key`` and one counter value (broadcasting)."""
    return splitmix64(key ^ splitmix64(torch.as_tensor(counter, dtype=torch.int64, device=key.device)))


def random_bits(keys: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """64 random bits per element: int64 ``[*keys.shape, *shape]``.

    Args:
        keys: int64 ``[S]``, one key per seed (``seed_keys``).
        counters: where in the run this draw is (e.g. ``(stream, update, step)``).
        shape: the elements drawn per key.
    """
    key = keys
    for counter in counters:
        key = mix(key, counter)
    index = torch.arange(math.prod(shape), dtype=torch.int64, device=keys.device).reshape(shape)
    return mix(key.reshape(key.shape + (1,) * len(shape)), index)


def uniform(keys: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...],
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniforms in the open interval (0, 1): ``[*keys.shape, *shape]``.

    float32 takes the top 24 bits, float64 the top 53, centred in their cell so
    that neither 0 nor 1 occurs (logs of them stay finite).
    """
    bits = 53 if dtype == torch.float64 else 24
    top = _shift_right(random_bits(keys, counters, shape), 64 - bits)
    return (top.to(dtype) + 0.5) * (2.0 ** -bits)


def normal(keys: torch.Tensor, counters: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normals (Box-Muller on two uniforms): float32 ``[*keys.shape, *shape]``."""
    # Two contiguous halves (not strided views of pairs): vectorised log/cos then take
    # the same code path for every element whatever the batch size, so draws are bitwise stable.
    u1, u2 = uniform(keys, counters, (2, *shape), torch.float64).unbind(len(keys.shape))
    u1, u2 = u1.contiguous(), u2.contiguous()
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)).to(torch.float32)


def seed_keys(seeds: list[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """int64 ``[S]`` keys from non-negative integer seeds (already hashed, so 0, 1, 2 are far apart)."""
    return splitmix64(torch.tensor([_signed(seed) for seed in seeds], dtype=torch.int64, device=device))
