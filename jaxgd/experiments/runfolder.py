"""A run folder that exists while the run trains, so a crash leaves a checkpoint to resume.

    .jaxgd-run.json  the marker: what jaxgd wrote here (see `jaxgd.rundir`)
    config.json      the run's TrainConfig
    checkpoint.npz   every impl's TrainState + history so far (`jaxgd.training.checkpoint`)
    metrics.csv      one row per epoch          } written when the run ends;
    params*.npz      final params by impl       } summary.json last, so its presence
    summary.json     final numbers              } means the run finished

The params saved are those the model is evaluated at (`jaxgd.core.transform.eval_params`:
schedule-free's average ``x``; the params themselves for other rules); the checkpoint
keeps the full state (schedule-free's ``y`` and ``z``) to resume from.

The folder is claimed before training (`jaxgd.rundir.OutputDir`: checked, locked,
staged). A new folder appears when its first checkpoint is complete (or at the
end), so a crash after that leaves a checkpoint to resume; a folder of a default
name (`jaxgd.experiments.foldername`) is made empty at the start, which reserves
its name, and removed again if the run ends before it holds anything. A run that replaces an
earlier result (``overwrite``) keeps everything in its staging folder until it has
finished: a failed, diverged or interrupted run leaves the earlier result as it
was. Each file is replaced atomically (`jaxgd.rundir.replace_file`), so a crash at
any moment leaves the last good checkpoint readable. A diverged run stops before
saving its non-finite state. Only process 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxgd.core.errors import CheckpointError, ConfigError
from jaxgd.core.io import replace_file, write_text
from jaxgd.core.transform import eval_params
from jaxgd.experiments.config import RESUMABLE, TrainConfig
from jaxgd.experiments.lock import RunLock
from jaxgd.experiments.outdir import OutputDir, check_disk_space, record_files
from jaxgd.experiments.records import save_params, write_metrics_csv
from jaxgd.training.checkpoint import load_checkpoint, read_manifest, save_checkpoint
from jaxgd.training.parallel import is_main_process

CHECKPOINT = "checkpoint.npz"


class Snapshot(NamedTuple):
    """What a checkpoint holds, by impl ("hand", "optax")."""

    config: TrainConfig
    states: dict[str, Any]  # impl -> TrainState (one not started yet: its initial state)
    history: dict[str, dict[str, np.ndarray]]  # impl -> metric -> (epochs run,)
    converged: dict[str, bool]  # impl -> stopped by tol/gtol


def save_snapshot(path: Path, snap: Snapshot) -> None:
    """The snapshot as one checkpoint file (histories as extra arrays)."""
    extras = {f"{impl}/{name}": col for impl, h in snap.history.items() for name, col in h.items()}
    meta = {"config": dataclasses.asdict(snap.config), "converged": snap.converged,
            "epochs": {impl: len(h.get("loss", ())) for impl, h in snap.history.items()}}
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
    history: dict[str, dict[str, np.ndarray]] = {impl: {} for impl in like}
    for name, col in loaded.extras.items():
        impl, _, metric = name.partition("/")
        if impl in history:
            history[impl][metric] = col
    converged = {impl: bool(loaded.meta.get("converged", {}).get(impl, False)) for impl in like}
    return Snapshot(cfg, loaded.tree, history, converged)


class RunFolder:
    """Where a run writes its checkpoints and results; see the module docstring.

    Claims the folder on creation (lock, checks, staging); use it as a context
    manager, or call `close`, to release the claim.

    Args:
        path: the run folder.
        overwrite: replace an earlier result (only once this run has finished).
        resume: continue the run already in ``path`` (written in place).
        made: ``path`` is an empty folder made for this run under a default name
            (`jaxgd.experiments.foldername`); it is removed again if the run ends early.

    Attributes:
        saved_epoch: the epoch of the last checkpoint this run wrote (None: none yet).
        saved_epochs: that checkpoint's epochs per impl (``{"hand": 8, "optax": 3}``;
            with ``--impl both`` the sides train in turn, so they may differ).
        live: True when ``path`` itself holds this run's files (checkpoints are
            then written in place); False while they are still staged.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, resume: bool = False,
                 made: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        self.writer = is_main_process()
        self.live = resume
        self.saved_epoch: int | None = None
        self.saved_epochs: dict[str, int] = {}
        self.claim: OutputDir | None = None
        self.lock: RunLock | None = None
        if resume:
            if not (self.path / "config.json").is_file():
                raise CheckpointError(f"--resume {str(self.path)!r}: no config.json there; pass the "
                                      "folder of a run written by `jaxgd train`.")
            self.manifest = read_manifest(self.path / CHECKPOINT)
            if self.writer:
                self.lock = RunLock(self.path)
        elif self.writer:
            self.claim = OutputDir(self.path, overwrite, kind="train", made=made)  # fails before training
        self.replacing = self.claim is not None and self.path.is_dir() and any(self.path.iterdir())

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the folder: an unpublished staging folder is removed, the lock freed."""
        if self.claim is not None:
            self.claim.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def check_space(self, need_bytes: int) -> None:
        """Refuse to train when the disk cannot hold about ``need_bytes`` more."""
        if self.writer:
            check_disk_space(self.path if self.live else self.path.parent, need_bytes, self.path)

    def stored_config(self) -> TrainConfig:
        """The TrainConfig in config.json (the run being resumed)."""
        try:
            return TrainConfig.from_dict(json.loads((self.path / "config.json").read_text()))
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{str(self.path / 'config.json')!r} is not a valid run config "
                              f"({err}).") from None

    def _saved(self, snap: Snapshot) -> None:
        self.saved_epochs = {impl: len(h.get("loss", ())) for impl, h in snap.history.items()}
        self.saved_epoch = max(self.saved_epochs.values())

    def stored_epochs(self) -> dict[str, int]:
        """The epochs per impl of the checkpoint found in the folder when it was opened."""
        return dict(self.manifest.get("meta", {}).get("epochs", {}))

    def epochs_done(self) -> int:
        """The most epochs any impl of the saved checkpoint has run."""
        return max(self.manifest.get("meta", {}).get("epochs", {}).values(), default=0)

    def load(self, cfg: TrainConfig, like: dict[str, Any]) -> Snapshot:
        """The saved snapshot, restored into ``like`` (fresh states built from ``cfg``)."""
        return load_snapshot(self.path / CHECKPOINT, cfg, like)

    def _where(self) -> Path:
        """The folder the next file goes to: the run folder once live, else the staging folder."""
        return self.path if self.live else self.claim.staging

    def save(self, snap: Snapshot) -> None:
        """A checkpoint: in place once live; a new folder is published with its first one."""
        if not self.writer:
            return
        folder = self._where()
        save_snapshot(folder / CHECKPOINT, snap)
        write_text(folder / "config.json", snap.config.to_json() + "\n")  # a resume's epochs
        self._saved(snap)
        if self.live:
            record_files(folder, [CHECKPOINT, "config.json"], "train")
        elif not self.replacing:
            self.claim.publish()
            self.live = True

    def finish(self, snap: Snapshot, results: dict[str, Any], summary: dict[str, Any]) -> None:
        """The final checkpoint, params, metrics, config and (last) summary; then the folder is released."""
        if not self.writer:
            return
        folder = self._where()
        names = self._write_results(folder, snap, results, summary)
        self._saved(snap)
        if self.live:
            record_files(folder, names, "train")
        else:
            self.claim.publish()
            self.live = True
        self.close()

    @staticmethod
    def _write_results(folder: Path, snap: Snapshot, results: dict[str, Any], summary: dict) -> list[str]:
        save_snapshot(folder / CHECKPOINT, snap)
        cols: dict[str, np.ndarray] = {}
        main_impl = "hand" if "hand" in results else "optax"
        names = [CHECKPOINT, "metrics.csv", "config.json", "summary.json"]
        for impl, res in results.items():
            prefix = "" if impl == main_impl else "optax_"
            cols.update({prefix + k: v for k, v in res.history.items()})
            name = "params.npz" if not prefix else "params_optax.npz"
            names.append(name)
            at = eval_params(res.state.opt_state, res.state.params)  # schedule-free: its average x
            replace_file(folder / name, lambda tmp, p=at: _save_npz(tmp, p))
        replace_file(folder / "metrics.csv", lambda tmp: write_metrics_csv(tmp, cols))
        write_text(folder / "config.json", snap.config.to_json() + "\n")
        write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
        return names


def _save_npz(tmp: Path, params: Any) -> None:
    with open(tmp, "wb") as f:  # an open file, so numpy does not append ".npz" to the name
        save_params(f, params)
