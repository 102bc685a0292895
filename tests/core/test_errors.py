"""Bad input gets a clear error: one table, each row the exception type and the message."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers as O
from jaxgd import reference as R
from jaxgd.core.errors import ConfigError, DataError, OutputExistsError, UnknownNameError
from jaxgd.data import load_dataset, validate_arrays
from jaxgd.data.batching import epoch_indices
from jaxgd.experiments.config import TrainConfig, parse_hidden, validate
from jaxgd.experiments.outdir import check_output_dir, record_files
from jaxgd.nn.losses import make_loss_fn, softmax_cross_entropy
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import fit

X4 = np.zeros((4, 2), np.float32)
Y4 = np.zeros((4, 1), np.float32)
LOSS = make_loss_fn("mse", "sigmoid", "sigmoid")
PARAMS = init_mlp(jax.random.key(0), (2, 3, 1))


def existing_folder(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("epoch,loss\n1,0.5\n")
    record_files(tmp_path / "run", ["metrics.csv"], "train")
    return check_output_dir(tmp_path / "run", overwrite=False)


def foreign_folder(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine\n")
    return check_output_dir(tmp_path / "run", overwrite=True)


# (id, thunk(tmp_path), exception type, regex the message must match)
CASES = [
    ("lr-negative", lambda t: O.sgd(-0.1), ConfigError, r"learning_rate=-0\.1 .*accepted: \(0, inf\]"),
    ("lr-zero", lambda t: O.adam(0.0), ConfigError, r"learning_rate=0\.0 .*accepted"),
    ("lr-nan", lambda t: O.sgd(float("nan")), ConfigError, r"learning_rate=nan is not finite"),
    ("lr-inf", lambda t: O.sgd(math.inf), ConfigError, r"learning_rate=inf is not finite"),
    ("lr-optax-twin", lambda t: R.sgd(-0.1), ConfigError, r"learning_rate=-0\.1"),
    ("b1-one", lambda t: O.adam(1e-3, b1=1.0), ConfigError, r"b1=1\.0 .*accepted: \[0, 1\)"),
    ("b2-negative", lambda t: O.adam(1e-3, b2=-0.1), ConfigError, r"b2=-0\.1 .*\[0, 1\)"),
    ("momentum-above-one", lambda t: O.sgd(0.1, momentum=1.5), ConfigError, r"momentum=1\.5"),
    ("eps-negative", lambda t: O.adam(1e-3, eps=-1.0), ConfigError, r"eps=-1\.0 .*accepted: \[0, inf\]"),
    ("weight-decay-negative", lambda t: O.add_decayed_weights(-0.01), ConfigError,
     r"weight_decay=-0\.01 .*accepted: \[0, inf\]"),
    ("l2-negative", lambda t: validate(TrainConfig(l2=-1.0)), ConfigError, r"l2=-1\.0"),
    ("unknown-optimizer", lambda t: validate(TrainConfig(optimizer="adm")), UnknownNameError,
     r"unknown optimizer 'adm'\. Did you mean 'adam'\? Accepted optimizer values: .*sgd"),
    ("unknown-dataset", lambda t: load_dataset("xr", jax.random.key(0)), UnknownNameError,
     r"unknown dataset 'xr'\. Did you mean 'xor'\? Accepted dataset values: .*moons"),
    ("unknown-activation", lambda t: validate(TrainConfig(activation="sigmod")), UnknownNameError,
     r"unknown activation 'sigmod'\. Did you mean 'sigmoid'\?.*relu"),
    ("unknown-loss", lambda t: validate(TrainConfig(loss="mes")), UnknownNameError,
     r"unknown loss 'mes' \(--loss\)\. Did you mean 'mse'\?.*softmax_ce"),
    ("batch-zero", lambda t: fit(LOSS, PARAMS, O.sgd(0.1), X4, Y4, epochs=1, batch_size=0),
     ConfigError, r"batch_size=0 must be a positive integer"),
    ("batch-negative-config", lambda t: validate(TrainConfig(batch_size=-2)), ConfigError,
     r"batch_size=-2 must be a positive integer"),
    ("batch-too-large", lambda t: fit(LOSS, PARAMS, O.sgd(0.1), X4, Y4, epochs=1, batch_size=5),
     ConfigError, r"batch_size=5 is larger than the data \(n=4\).*batch_size=4"),
    ("epoch-indices-too-large", lambda t: epoch_indices(jax.random.key(0), 4, 8), ConfigError,
     r"batch_size=8"),
    ("xy-length-mismatch", lambda t: validate_arrays(X4, Y4[:3], "binary", 2), DataError,
     r"x has 4 rows but y has 3"),
    ("nan-in-data", lambda t: validate_arrays(np.array([[0, 1], [np.nan, 1]], np.float32),
                                              np.zeros((2, 1), np.float32), "binary", 2),
     DataError, r"x has 1 non-finite values \(NaN or inf\)"),
    ("label-out-of-range", lambda t: validate_arrays(X4, np.array([0, 1, 2, 3], np.int32),
                                                     "multiclass", 3), DataError,
     r"labels outside \[0, 3\)"),
    ("label-negative-in-loss", lambda t: softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, -1])),
     DataError, r"-1"),
    ("hidden-zero", lambda t: parse_hidden("3,0"), ConfigError, r"hidden size=0 must be a positive integer"),
    ("hidden-not-int", lambda t: parse_hidden("3,a"), ConfigError,
     r"hidden='3,a': expected comma-separated positive integers"),
    ("hidden-negative-init", lambda t: init_mlp(jax.random.key(0), (2, -1, 1)), ConfigError, r"-1"),
    ("hidden-float-config", lambda t: validate(TrainConfig(hidden=(2.5,))), ConfigError,
     r"hidden size=2\.5 must be a positive integer"),
    ("output-exists", existing_folder, OutputExistsError,
     r"already holds a jaxgd train result; pass --overwrite"),
    ("output-foreign", foreign_folder, OutputExistsError,
     r"holds files that jaxgd did not write \(notes\.txt\).*with or without --overwrite"),
    ("epochs-zero", lambda t: validate(TrainConfig(epochs=0)), ConfigError, r"epochs=0 must be a positive"),
]


@pytest.mark.parametrize(("thunk", "exc", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_clear_error(thunk, exc, pattern, tmp_path):
    with pytest.raises(exc, match=pattern):
        thunk(tmp_path)


def test_output_exists_keeps_the_earlier_result(tmp_path):
    with pytest.raises(OutputExistsError):
        existing_folder(tmp_path)
    assert (tmp_path / "run" / "metrics.csv").read_text() == "epoch,loss\n1,0.5\n"


def test_finding_typo_adma_suggests_adam_not_adamax():
    from jaxgd.core.errors import close_matches, edit_distance, suggest
    from jaxgd.core.names import OPTIMIZERS

    assert edit_distance("adma", "adam") == 1  # one swap of neighbours
    assert edit_distance("adma", "adamax") == 2  # insert a, insert x
    assert edit_distance("", "abc") == 3 and edit_distance("kitten", "sitting") == 3  # the classic
    assert close_matches("adma", OPTIMIZERS)[0] == "adam"
    assert close_matches("sdg", OPTIMIZERS)[0] == "sgd"
    assert suggest("admaw", OPTIMIZERS).startswith(" Did you mean 'adamw'?")


def test_finding_polyak_sgd_says_why_train_does_not_run_it():
    import pytest

    from jaxgd.core.errors import ConfigError
    from jaxgd.experiments.config import TrainConfig, validate

    with pytest.raises(ConfigError, match="polyak_sgd.*sets its own step.*crosscheck --optimizer polyak_sgd"):
        validate(TrainConfig(optimizer="polyak_sgd"))
