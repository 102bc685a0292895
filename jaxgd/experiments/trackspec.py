"""The ``--track`` spec: which instruments a run records, and how often. No JAX here.

    --track sharpness:10,noise_scale:50,monitors

reads as ``(("sharpness", 10), ("noise_scale", 50), ("monitors", 1))``: the config holds
those pairs (config.json a list of them), in the order given. ``NAME`` alone means
``NAME:1`` (every epoch); ``monitors`` is per epoch only. What each one records is
`jaxgd.experiments.tracking`'s.
"""

from __future__ import annotations

import numbers
from typing import Any

from jaxgd.core.errors import ConfigError, UnknownNameError, suggest
from jaxgd.core.limits import MAX_INT32

__all__ = ["INSTRUMENTS", "check_track", "load_track", "parse_track", "show_track"]

INSTRUMENTS = ("sharpness", "noise_scale", "monitors")
PER_EPOCH = ("monitors",)  # measured at every update: no EVERY of their own
ACCEPTED = ("sharpness[:EVERY], noise_scale[:EVERY] and monitors, comma-separated, each at most "
            "once; EVERY a whole number of epochs >= 1 (left out: 1)")
EXAMPLE = "e.g. --track sharpness:10,noise_scale:50,monitors"


def _refuse(text: str, why: str, kind: type[ConfigError] = ConfigError, hint: str = "") -> ConfigError:
    return kind(f"--track {text!r}: {why}.{hint} Accepted: {ACCEPTED}; {EXAMPLE}.")


def parse_track(text: str) -> tuple[tuple[str, int], ...]:
    """``'sharpness:10,monitors'`` -> ``(('sharpness', 10), ('monitors', 1))``; ``''`` -> ``()``.

    Raises:
        UnknownNameError: a name that is not an instrument (with the closest one).
        ConfigError: EVERY not a positive int, an instrument named twice, an empty item,
            or an EVERY on a per-epoch instrument.
    """
    text = str(text)
    if not text.strip():
        return ()
    pairs: list[tuple[str, int]] = []
    for item in text.split(","):
        name, sep, every = (part.strip() for part in item.partition(":"))
        name = name.replace("-", "_")
        if not name:
            raise _refuse(text, f"{item.strip()!r} names no instrument before ':'" if sep
                          else "an empty item (two commas in a row, or a comma at an end)")
        if name not in INSTRUMENTS:
            hint = suggest(name, INSTRUMENTS).split(" Accepted:")[0]
            raise _refuse(text, f"unknown instrument {name!r}", UnknownNameError, hint)
        if any(name == seen for seen, _ in pairs):
            raise _refuse(text, f"{name} is named twice; give each instrument once")
        if not sep:
            pairs.append((name, 1))
            continue
        try:
            n = int(every)
        except ValueError:
            n = 0
        if n < 1 or n > MAX_INT32:
            raise _refuse(text, f"EVERY {every!r} of {name} is not a whole number of epochs in "
                                f"1..{MAX_INT32:,}")
        if name in PER_EPOCH and n != 1:
            raise _refuse(text, f"{name} is recorded at every epoch (the mean over its updates) "
                                f"and takes no EVERY; write {name}")
        pairs.append((name, n))
    return tuple(pairs)


def check_track(name: str, value: Any) -> None:
    """``value`` is pairs ``(instrument, every)`` as `parse_track` returns them."""
    ok = isinstance(value, tuple) and all(
        isinstance(p, tuple) and len(p) == 2 and p[0] in INSTRUMENTS and isinstance(p[1], numbers.Integral)
        and not isinstance(p[1], bool) and 1 <= p[1] <= MAX_INT32 and (p[0] not in PER_EPOCH or p[1] == 1)
        for p in value)
    if not ok or len({p[0] for p in value}) != len(value):
        raise ConfigError(f"{name}={value!r} (--track): expected pairs (instrument, every), each "
                          f"instrument once, e.g. track=(('sharpness', 10), ('monitors', 1)) or the "
                          f"text 'sharpness:10,monitors'. Accepted: {ACCEPTED}.")


def show_track(value: tuple[tuple[str, int], ...] | None) -> str:
    """The ``--track`` text that `parse_track` reads back as ``value``."""
    return ",".join(name if every == 1 else f"{name}:{every}" for name, every in value or ())


def load_track(value: Any) -> Any:
    """A spec read back from config.json (lists), or given as text, as the pairs the config holds."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_track(value)
    if isinstance(value, list | tuple):
        return tuple(tuple(p) if isinstance(p, list | tuple) else p for p in value)
    return value
