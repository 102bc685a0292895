"""What `jaxgd train` prints around a run: the line of a resumed run, and after training the
predictions block (probabilities for the classification losses, wide inputs summarised).

The hand-vs-optax part of the report is in `jaxgd.cli.train_agreement`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

ROWS = 4  # the predictions block shows the first 4 training rows (XOR: all of them)
SHOWN_FEATURES = 4  # wider inputs show their first 4 features and the count


# ----------------------------------------------------------------------------- predictions


class Shown(NamedTuple):
    """The predictions block: the first rows of the training data and what the model says."""

    kind: str  # "probability" (binary, of class 1), "class" (and its probability) or "output"
    what: str  # the header: what the numbers are
    x: Any  # (rows, d) inputs
    y: Any  # (rows,) or (rows, k) targets as the loss takes them
    values: Any  # probability: (rows,); class: (rows,) its probability or output; output: (rows, k)
    classes: Any  # class: (rows,) int, the predicted class; else None


def shown_predictions(cfg, outcome, rows: int = ROWS) -> Shown:
    """The model's answer on the first ``rows`` training inputs, in the loss's terms.

    ``bce``: the sigmoid of the logits, probabilities in [0, 1] (of class 1 for one output;
    with one output per class, the predicted class and its probability). ``softmax_ce``:
    the predicted class and its softmax probability. ``mse``: the network's outputs (with
    classes, the predicted class and its output).
    """
    import numpy as np

    from jaxgd.experiments.run import predictions

    pb = outcome.problem
    ds = pb.data
    out = np.asarray(predictions(cfg, outcome, rows), np.float64)  # (rows, k): logits for ce losses
    x, y = np.asarray(ds.x[: len(out)]), np.asarray(ds.y[: len(out)])
    if pb.loss == "softmax_ce":
        z = np.exp(out - out.max(-1, keepdims=True))
        p = z / z.sum(-1, keepdims=True)
        c = p.argmax(-1)
        return Shown("class", "predicted class and its probability (softmax of the logits)", x, y,
                     p[np.arange(len(c)), c], c)
    if pb.loss == "bce":
        p = 1.0 / (1.0 + np.exp(-out))
        if ds.task == "multiclass":
            c = p.argmax(-1)
            return Shown("class", "predicted class and its probability (sigmoid of its logit)", x, y,
                         p[np.arange(len(c)), c], c)
        return Shown("probability", "probability of class 1 (sigmoid of the logit)", x, y, p[:, 0], None)
    if ds.task == "multiclass":
        c = out.argmax(-1)
        return Shown("class", "predicted class and its output", x, y, out[np.arange(len(c)), c], c)
    return Shown("output", "network output", x, y, out, None)


def _x_text(xi, index: int) -> str:
    """The input row: whole up to `SHOWN_FEATURES` features, else ``#ROW x[0..3] [...] ... (d features)``."""
    import numpy as np

    if len(xi) <= SHOWN_FEATURES:
        return np.array2string(xi, precision=3)
    head = "[" + " ".join(f"{float(v):.3g}" for v in xi[:SHOWN_FEATURES]) + "]"
    return f"#{index} x[0..{SHOWN_FEATURES - 1}] {head} ... ({len(xi)} features)"


def _label(ds, c) -> str:
    c = int(c)
    return ds.classes[c] if ds.classes and 0 <= c < len(ds.classes) else str(c)


def prediction_lines(cfg, outcome, rows: int = ROWS) -> list[str]:
    """The predictions block: a header, then ``x -> prediction | target`` per row."""
    import numpy as np

    shown = shown_predictions(cfg, outcome, rows)
    ds = outcome.problem.data
    n = len(shown.x)
    lines = [f"predictions    {shown.what}, rows 0-{n - 1} of {ds.n}: x -> "
             + {"probability": "p", "class": "class (p)" if "probability" in shown.what else "class (output)",
                "output": "output"}[shown.kind] + " | target"]
    for i in range(n):
        x = _x_text(shown.x[i], i)
        if shown.kind == "probability":
            lines.append(f"  {x} -> {shown.values[i]:.4f} | {_label(ds, np.ravel(shown.y[i])[0])}")
        elif shown.kind == "class":
            target = np.ravel(shown.y[i])
            target = target.argmax() if target.size > 1 else target[0]  # one-hot rows
            lines.append(f"  {x} -> {_label(ds, shown.classes[i])} ({shown.values[i]:.4f}) | "
                         f"{_label(ds, target)}")
        else:
            lines.append(f"  {x} -> {np.array2string(shown.values[i], precision=4)} | {shown.y[i]}")
    return lines


# ----------------------------------------------------------------------------- resuming


class Resume(NamedTuple):
    """Where a run to resume stands, read from its checkpoint (before any training)."""

    path: Path
    epochs: dict[str, int]  # impl -> epochs its checkpoint holds
    converged: dict[str, bool]  # impl -> stopped by tol/gtol
    target: int  # the epochs to reach in all (--epochs)
    saved: str  # when the checkpoint was written, local time
    finished: bool  # the folder holds a finished run's results (summary.json)

    @property
    def start(self) -> int:
        """The epoch training resumes from: the least of the sides still to train."""
        left = [e for impl, e in self.epochs.items() if not self.converged.get(impl) and e < self.target]
        return min(left, default=max(self.epochs.values(), default=0))

    @property
    def nothing_left(self) -> bool:
        """Every side has reached the target or converged, and the results are written."""
        return self.finished and all(e >= self.target or self.converged.get(impl)
                                     for impl, e in self.epochs.items())

    def as_dict(self) -> dict[str, Any]:
        return {"from_epoch": self.start, "epochs": self.target, "checkpoint_time": self.saved,
                "sides": dict(self.epochs)}


def resume_state(folder, target: int) -> Resume:
    """The `Resume` of a `RunFolder` opened with ``resume=True``."""
    meta = folder.manifest.get("meta", {})
    epochs = {str(k): int(v) for k, v in meta.get("epochs", {}).items()}
    converged = {str(k): bool(v) for k, v in meta.get("converged", {}).items()}
    ckpt = folder.path / "checkpoint.npz"
    saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ckpt.stat().st_mtime))
    return Resume(folder.path, epochs, converged, target, saved, (folder.path / "summary.json").is_file())


def resuming_line(r: Resume) -> str:
    """``resuming DIR from epoch 500 of 1000 (checkpoint of <time>)``; where the sides (which
    train in turn) stand at different epochs, each side's."""
    when = f"(checkpoint of {r.saved})"
    if len(set(r.epochs.values())) <= 1:
        return f"resuming {r.path} from epoch {r.start} of {r.target} {when}"
    sides = ", ".join(f"{impl} done ({e} epochs)" if e >= r.target or r.converged.get(impl)
                      else f"{impl} from epoch {e} of {r.target}" for impl, e in r.epochs.items())
    return f"resuming {r.path}: {sides} {when}"


def nothing_to_do_line(r: Resume) -> str:
    """Why a resume has nothing to train, and what would train further."""
    done = max(r.epochs.values(), default=0)
    if all(e >= r.target for e in r.epochs.values()):
        return (f"nothing to do: {r.path} already has {done} epochs; pass --epochs M with "
                f"M > {done} to train further")
    return (f"nothing to do: {r.path} stopped at epoch {done} by its tolerance (--tol/--gtol) "
            "and stays converged; start a new run (--out) to train further")
