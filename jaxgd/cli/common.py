"""Flags shared by several subcommands."""

from __future__ import annotations

from jaxgd.experiments.config import TrainConfig


def add_data_flags(group) -> None:
    """The problem: dataset, network shape, loss, init, splits (train, sweep, compare)."""
    d = TrainConfig()
    group.add_argument("--dataset", default=d.dataset,
                       help="xor, moons, circles, spirals, sine, digits, mnist1d, or a .npz/.csv path")
    group.add_argument("--hidden", default=",".join(map(str, d.hidden)), help="hidden sizes, e.g. 64,64")
    group.add_argument("--activation", default=d.activation)
    group.add_argument("--output-activation", default=None, help="default: by loss")
    group.add_argument("--loss", default=None, help="mse, bce or softmax_ce (default: by dataset)")
    group.add_argument("--init", default=d.init, help="normal (the tutorial's randn), glorot, he, lecun")
    group.add_argument("--n-samples", type=int, default=None, help="size of a synthetic dataset")
    group.add_argument("--test-fraction", type=float, default=d.test_fraction)
    group.add_argument("--label-column", default=None, help="label column of a .csv file")
    group.add_argument("--standardize", action="store_true", help="standardise x with train stats")
