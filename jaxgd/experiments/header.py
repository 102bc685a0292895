"""The header of a run's report: what it trains, and every setting that is not the default.

    jaxgd train: digits, sizes (64, 128, 10) (the default for digits), relu (the default for
        digits), loss softmax_ce, adam(lr=0.001 (adam's default)), impl both, grad backprop
    init           he (He init for relu)
    batch          32 (the default for digits): 44 updates per epoch, 30 epochs (the default for digits)
    schedule       tutorial_step: lr x0.9 every 100 epochs, 0.5 at the start, 1.33e-05 at the last update
    settings       --l2 0.01

Resolved values name where they came from (`jaxgd.experiments.defaults.origins`); a
decaying schedule shows its first and last learning rate, so a rate that decayed to
nothing explains a run that stopped learning.
"""

from __future__ import annotations

import math

from jaxgd.experiments.build import Problem, make_schedule
from jaxgd.experiments.config import FIELDS, TrainConfig, full_batch
from jaxgd.experiments.defaults import RESOLVED, origins, resolve_defaults
from jaxgd.experiments.fields import flags_of
from jaxgd.experiments.tracking import NOISE_ROWS, POWER_ITERS, SHARPNESS_ROWS

__all__ = ["run_header", "schedule_line", "track_line"]

# shown on lines of their own, or part of what every header says
_OWN_LINES = (*RESOLVED, "dataset", "optimizer", "hyper", "impl", "grad", "loss", "schedule",
              "decay_rate", "decay_every", "warmup_epochs", "track")


def _with(value, origin: str | None) -> str:
    return f"{value} ({origin})" if origin else f"{value}"


def schedule_line(cfg: TrainConfig, steps_per_epoch: int) -> str | None:
    """The schedule, its decay and its learning rate at the first and last update; None
    for a constant rate."""
    if cfg.schedule == "constant":
        return None
    sched = make_schedule(cfg, steps_per_epoch, "hand")
    last = cfg.epochs * steps_per_epoch - 1
    first, final = float(sched(0)), float(sched(last))
    decay = {"exponential": f"x{cfg.decay_rate:g} every {cfg.decay_every} epochs (smoothly)",
             "staircase": f"x{cfg.decay_rate:g} every {cfg.decay_every} epochs",
             "step": f"x{cfg.decay_rate:g} every {cfg.decay_every} epochs",
             "tutorial_step": f"x{cfg.decay_rate:g} every {cfg.decay_every} epochs, from epoch 0",
             "piecewise": f"x{cfg.decay_rate:g} at a third and two thirds of the run",
             "warmup_cosine": f"{cfg.warmup_epochs} warmup epochs, then cosine to 0"}.get(cfg.schedule)
    text = f"{cfg.schedule}" + (f": lr {decay}" if decay else "")
    text += f"; lr {first:.3g} at the first update, {final:.3g} at the last"
    if math.isfinite(final) and final < 1e-3 * max(first, 1e-30):
        text += " (it decayed over 1000x: add --epochs or raise --decay-every)"
    return text


def track_line(cfg: TrainConfig, n: int) -> str | None:
    """What ``--track`` records and how often (`jaxgd.experiments.tracking`); None: nothing."""
    parts = []
    for name, every in cfg.track or ():
        when = "every epoch" if every == 1 else f"every {every} epochs"
        if name == "sharpness":
            rows = f"all {n} training rows" if n <= SHARPNESS_ROWS else f"{SHARPNESS_ROWS} fixed rows of {n}"
            limit = f"; 2/lr = {2 / cfg.learning_rate:.4g}" if cfg.schedule == "constant" else ""
            parts.append(f"sharpness {when} ({POWER_ITERS} power steps on {rows}{limit})")
        elif name == "noise_scale":
            rows = f"all {n} training rows" if n <= NOISE_ROWS else f"{NOISE_ROWS} fixed rows of {n}"
            parts.append(f"noise_scale {when} (B_simple on {rows})")
        else:
            parts.append(f"{name} {when} (the mean over the epoch's updates)")
    return ", ".join(parts) or None


def run_header(cfg: TrainConfig, pb: Problem) -> list[str]:
    """The report's first lines for a run of ``cfg`` (resolved or not) on problem ``pb``."""
    cfg = resolve_defaults(cfg)
    steps_per_epoch = pb.data.n // (pb.data.n if full_batch(cfg.batch_size) else cfg.batch_size)
    why = origins(cfg)
    hyper = "".join(f", {k}={v}" for k, v in cfg.hyper)
    lines = [f"jaxgd train: {cfg.dataset}, sizes {_with(pb.sizes, why.get('hidden'))}, "
             f"{_with(cfg.activation, why.get('activation'))}, "
             f"loss {pb.loss}, {cfg.optimizer}(lr={_with(f'{cfg.learning_rate:g}', why.get('learning_rate'))}"
             f"{hyper}), impl {cfg.impl}, grad {cfg.grad}"]
    lines.append(f"{'init':<15}{_with(cfg.init, why.get('init'))}")
    batch = "full" if full_batch(cfg.batch_size) else cfg.batch_size
    lines.append(f"{'batch':<15}{_with(batch, why.get('batch_size'))}: {steps_per_epoch} update"
                 f"{'s' if steps_per_epoch != 1 else ''} per epoch, "
                 f"{_with(f'{cfg.epochs} epochs', why.get('epochs'))}")
    sched = schedule_line(cfg, steps_per_epoch)
    if sched:
        lines.append(f"{'schedule':<15}{sched}")
    track = track_line(cfg, pb.data.n)
    if track:
        lines.append(f"{'track':<15}{track}")
    changed = [" ".join((flags_of(name, opt)[0], _shown(opt, getattr(cfg, name)))).rstrip()
               for name, (default, opt) in FIELDS.items()
               if name not in _OWN_LINES and getattr(cfg, name) != default
               and not (name == "data_sharding" and getattr(cfg, name) == "replicated")]  # auto's pick
    if changed:
        lines.append(f"{'settings':<15}{' '.join(changed)}")
    return lines


def _shown(opt, value) -> str:
    if opt.switch:
        return ""
    text = opt.show(value)
    return " ".join(text) if isinstance(text, list) else (text or "''")
