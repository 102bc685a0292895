"""A run folder that exists while the run trains, so a crash leaves a checkpoint to resume.

    config.json      the run's TrainConfig
    checkpoint.npz   every side's TrainState + history so far (`jaxgd.checkpoint`)
    metrics.csv      one row per epoch          } written when the run ends;
    params*.npz      final params by side       } summary.json last, so its presence
    summary.json     final numbers              } means the run finished

The folder appears (or replaces an earlier one, with ``overwrite``) only when
its first checkpoint is complete: config and checkpoint are written into a hidden
temporary folder that is then renamed into place (`jaxgd.rundir.atomic_dir`).
From then on each file is replaced atomically (temp file + `os.replace`), so a
crash at any moment leaves the last good checkpoint readable. A diverged run
stops before saving its non-finite state. Only process 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxgd.checkpoint import load_checkpoint, read_manifest, save_checkpoint
from jaxgd.config import RESUMABLE, TrainConfig
from jaxgd.errors import CheckpointError, ConfigError
from jaxgd.parallel import is_main_process
from jaxgd.rundir import atomic_dir, check_output_dir, save_params, write_metrics_csv

CHECKPOINT = "checkpoint.npz"


class Snapshot(NamedTuple):
    """What a checkpoint holds, by side ("hand", "optax")."""

    config: TrainConfig
    states: dict[str, Any]  # side -> TrainState (a side not started yet: its initial state)
    history: dict[str, dict[str, np.ndarray]]  # side -> metric -> (epochs run,)
    converged: dict[str, bool]  # side -> stopped by tol/gtol


def _replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write via ``write(tmp)`` into a temp file next to ``path``, then `os.replace` it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    _replace_file(path, lambda tmp: tmp.write_text(text))


def save_snapshot(path: Path, snap: Snapshot) -> None:
    """The snapshot as one checkpoint file (histories as extra arrays)."""
    extras = {f"{side}/{name}": col for side, h in snap.history.items() for name, col in h.items()}
    meta = {"config": dataclasses.asdict(snap.config), "converged": snap.converged,
            "epochs": {side: len(h.get("loss", ())) for side, h in snap.history.items()}}
    save_checkpoint(path, snap.states, meta, extras)


def load_snapshot(path: Path, cfg: TrainConfig, like: dict[str, Any]) -> Snapshot:
    """Restore a snapshot into ``like`` (fresh states built from ``cfg``), or refuse it."""
    loaded = load_checkpoint(path, like)
    saved = loaded.meta.get("config", {})
    for field in dataclasses.fields(TrainConfig):
        if field.name in RESUMABLE or field.name not in saved:
            continue
        mine = json.loads(json.dumps(getattr(cfg, field.name)))
        if saved[field.name] != mine:
            raise CheckpointError(f"checkpoint {str(path)!r} was written with {field.name}="
                                  f"{saved[field.name]!r}, this run has {mine!r}: it belongs to "
                                  "another run. Resume from that run's own folder.")
    history: dict[str, dict[str, np.ndarray]] = {side: {} for side in like}
    for name, col in loaded.extras.items():
        side, _, metric = name.partition("/")
        if side in history:
            history[side][metric] = col
    converged = {side: bool(loaded.meta.get("converged", {}).get(side, False)) for side in like}
    return Snapshot(cfg, loaded.tree, history, converged)


class RunFolder:
    """Where a run writes its checkpoints and results; see the module docstring."""

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, resume: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        self.writer = is_main_process()
        self.live = resume  # the folder exists and holds a checkpoint of this run
        if resume:
            if not (self.path / "config.json").is_file():
                raise CheckpointError(f"--resume {str(self.path)!r}: no config.json there; pass the "
                                      "folder of a run written by `jaxgd train`.")
            self.manifest = read_manifest(self.path / CHECKPOINT)
        else:
            check_output_dir(self.path, overwrite)  # fail before training, not after

    def stored_config(self) -> TrainConfig:
        """The TrainConfig in config.json (the run being resumed)."""
        try:
            return TrainConfig.from_dict(json.loads((self.path / "config.json").read_text()))
        except (json.JSONDecodeError, TypeError) as err:
            raise ConfigError(f"{str(self.path / 'config.json')!r} is not a valid run config "
                              f"({err}).") from None

    def epochs_done(self) -> int:
        """The most epochs any side of the saved checkpoint has run."""
        return max(self.manifest.get("meta", {}).get("epochs", {}).values(), default=0)

    def load(self, cfg: TrainConfig, like: dict[str, Any]) -> Snapshot:
        """The saved snapshot, restored into ``like`` (fresh states built from ``cfg``)."""
        return load_snapshot(self.path / CHECKPOINT, cfg, like)

    def save(self, snap: Snapshot) -> None:
        """A checkpoint: creates the folder the first time, then replaces the files."""
        if not self.writer:
            return
        if self.live:
            save_snapshot(self.path / CHECKPOINT, snap)
            _write_text(self.path / "config.json", snap.config.to_json() + "\n")  # a resume's epochs
            return
        with atomic_dir(self.path, self.overwrite) as tmp:
            (tmp / "config.json").write_text(snap.config.to_json() + "\n")
            save_snapshot(tmp / CHECKPOINT, snap)
        self.live = True

    def finish(self, snap: Snapshot, results: dict[str, Any], summary: dict[str, Any]) -> None:
        """The final checkpoint, params, metrics, config and (last) summary."""
        if not self.writer:
            return
        if self.live:
            self._write_results(self.path, snap, results, summary)
            return
        with atomic_dir(self.path, self.overwrite) as tmp:
            self._write_results(tmp, snap, results, summary)
        self.live = True

    @staticmethod
    def _write_results(folder: Path, snap: Snapshot, results: dict[str, Any], summary: dict) -> None:
        save_snapshot(folder / CHECKPOINT, snap)
        cols: dict[str, np.ndarray] = {}
        main_side = "hand" if "hand" in results else "optax"
        for side, res in results.items():
            prefix = "" if side == main_side else "optax_"
            cols.update({prefix + k: v for k, v in res.history.items()})
            name = "params.npz" if not prefix else "params_optax.npz"
            _replace_file(folder / name, lambda tmp, p=res.state.params: _save_npz(tmp, p))
        _replace_file(folder / "metrics.csv", lambda tmp: write_metrics_csv(tmp, cols))
        _write_text(folder / "config.json", snap.config.to_json() + "\n")
        _write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")


def _save_npz(tmp: Path, params: Any) -> None:
    with open(tmp, "wb") as f:  # an open file, so numpy does not append ".npz" to the name
        save_params(f, params)
