"""optax twins and table rows: SGD variants, sign methods, adaptive and layer-wise rules."""

from __future__ import annotations

import jax
import optax

from jaxgd.optimizers import adaptive, factored, layerwise, rms, sgd_variants, sign_methods
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import COMPLEX, LOW_AND_COMPLEX, Known, Row, twin

__all__ = ["adadelta", "adafactor", "adagrad", "add_noise", "fromage", "lars", "lion", "noisy_sgd",
           "optimistic_gradient_descent", "polyak_sgd", "rmsprop", "rprop", "scale_by_adadelta",
           "scale_by_factored_rms", "scale_by_lion", "scale_by_optimistic_gradient",
           "scale_by_param_block_rms", "scale_by_polyak", "scale_by_rms", "scale_by_rprop",
           "scale_by_rss", "scale_by_sign", "scale_by_sm3", "scale_by_stddev", "sign_sgd", "signum",
           "sm3"]

noisy_sgd = twin(sgd_variants.noisy_sgd, optax.noisy_sgd)
add_noise = twin(sgd_variants.add_noise, optax.add_noise)
polyak_sgd = twin(sgd_variants.polyak_sgd, optax.polyak_sgd)
scale_by_polyak = twin(sgd_variants.scale_by_polyak, optax.scale_by_polyak)
optimistic_gradient_descent = twin(sgd_variants.optimistic_gradient_descent,
                                   optax.optimistic_gradient_descent)
scale_by_optimistic_gradient = twin(sgd_variants.scale_by_optimistic_gradient,
                                    optax.scale_by_optimistic_gradient)
sign_sgd = twin(sign_methods.sign_sgd, optax.sign_sgd)
signum = twin(sign_methods.signum, optax.signum)
lion = twin(sign_methods.lion, optax.lion)
scale_by_sign = twin(sign_methods.scale_by_sign, optax.scale_by_sign)
scale_by_lion = twin(sign_methods.scale_by_lion, optax.scale_by_lion)
adagrad = twin(adaptive.adagrad, optax.adagrad)
scale_by_rss = twin(adaptive.scale_by_rss, optax.scale_by_rss)
scale_by_adadelta = twin(adaptive.scale_by_adadelta, optax.scale_by_adadelta)
scale_by_sm3 = twin(adaptive.scale_by_sm3, optax.scale_by_sm3)
rmsprop = twin(rms.rmsprop, optax.rmsprop)
scale_by_rms = twin(rms.scale_by_rms, optax.scale_by_rms)
scale_by_stddev = twin(rms.scale_by_stddev, optax.scale_by_stddev)
adafactor = twin(factored.adafactor, optax.adafactor)
scale_by_factored_rms = twin(factored.scale_by_factored_rms, optax.scale_by_factored_rms)
scale_by_param_block_rms = twin(factored.scale_by_param_block_rms, optax.scale_by_param_block_rms)
lars = twin(layerwise.lars, optax.lars)
fromage = twin(layerwise.fromage, optax.fromage)


def scale_by_rprop(learning_rate, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0):
    """optax.scale_by_rprop, emitting the step it has just computed.

    optax 0.2.8 returns the PREVIOUS step (``state.prev_updates`` before the update;
    zeros on the first call), one step late (google-deepmind/optax PR #1725). Its new
    state holds the current step ``s_t * sign(g_t)`` (0 after a sign change), which
    is what Rprop applies: this twin returns that.
    """
    sgd_variants.scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    inner = optax.scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)

    def update(grads, state, params=None):
        _, state = inner.update(grads, state, params)
        return state.prev_updates, state

    return optax.GradientTransformation(inner.init, update)


def rprop(learning_rate, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0):
    """Rprop from optax's pieces, with optax's one-step lag removed (see scale_by_rprop)."""
    return optax.chain(scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
                       optax.scale(-1.0))


def adadelta(learning_rate=None, rho=0.9, eps=1e-6, weight_decay=0.0, weight_decay_mask=None):
    """optax.adadelta, with ``learning_rate=None`` read as 1.0.

    optax 0.2.8's ``adadelta()`` without a learning rate leaves out the sign flip
    and returns ``+dx`` (uphill); the paper's rule (lr 1, descent) is ``adadelta(1.0)``.
    """
    adaptive.adadelta(learning_rate, rho, eps, weight_decay, weight_decay_mask)
    return optax.adadelta(1.0 if learning_rate is None else learning_rate, rho, eps, weight_decay,
                          weight_decay_mask)


def _scalars_as_vectors(inner: optax.GradientTransformation) -> optax.GradientTransformation:
    """``inner`` applied with every 0-d leaf viewed as shape (1,) (updates reshaped back)."""
    as_1d = lambda tree: jax.tree.map(lambda x: x.reshape(1) if x.ndim == 0 else x, tree)

    def init(params):
        return inner.init(as_1d(params))

    def update(grads, state, params=None):
        u, state = inner.update(as_1d(grads), state, None if params is None else as_1d(params))
        return jax.tree.map(lambda u, g: u.reshape(g.shape), u, grads), state

    return optax.GradientTransformation(init, update)


def sm3(learning_rate, momentum=0.9):
    """optax.sm3 on any pytree: optax fails on 0-d leaves (IndexError) and empty leaves
    (max of an empty axis). Scalars go through as 1-vectors, empty leaves are masked out."""
    adaptive.sm3(learning_rate, momentum)
    nonempty = lambda tree: jax.tree.map(lambda x: x.size > 0, tree)
    return optax.masked(_scalars_as_vectors(optax.sm3(learning_rate, momentum)), nonempty)


_SIGN_NOTE = "a sign rule: the two agree exactly because both compute the same argument of sign()"
_SIGN_FLIPS = (Known(("float16", "bfloat16", *COMPLEX), ("hand", "optax"),
                     "the sign (complex: the phase) of a momentum within rounding of 0 can differ from "
                     "float64's: a step of +-lr where float64 takes -+lr"),)
_NOISE = (Known(LOW_AND_COMPLEX, ("hand", "optax"),
                "the noise is drawn in each gradient's dtype: a float64 run draws other numbers"),)
_SQUARES_G = (Known(COMPLEX, ("optax",), "optax 0.2.8 squares g (g**2, not |g|**2): the complex step "
                    "comes out real"),)


def _rmsprop_row(suffix: str, kwargs: dict, **more) -> Row:
    kw = {"learning_rate": 0.01, "eps": 1e-3, **kwargs}
    return Row(f"rmsprop{suffix}", rms.rmsprop, rmsprop, kw, **more)


ROWS = (
    Row("noisy_sgd", sgd_variants.noisy_sgd, noisy_sgd,
        {"learning_rate": 0.05, "eta": 0.01, "key": 0},
        note="same noise stream as optax: key split once per step, then once per leaf in tree order",
        known=_NOISE),
    Row("sign_sgd", sign_methods.sign_sgd, sign_sgd, {"learning_rate": 0.05}, note=_SIGN_NOTE),
    Row("signum", sign_methods.signum, signum, {"learning_rate": 0.05, "beta": 0.9}, note=_SIGN_NOTE,
        known=_SIGN_FLIPS),
    Row("lion", sign_methods.lion, lion, {"learning_rate": 0.01},
        note=_SIGN_NOTE + "; weight decay is scaled by the lr (decoupled, AdamW-style)", known=_SIGN_FLIPS),
    Row("lion-masked_decay", sign_methods.lion, lion,
        {"learning_rate": 0.01, "weight_decay": 0.1, "mask": weights_mask},
        note="decay on ndim >= 2 leaves only", known=_SIGN_FLIPS),
    Row("polyak_sgd", sgd_variants.polyak_sgd, polyak_sgd, {"max_learning_rate": 0.5},
        schedule=False, extra=("value",),
        note="optax applies the Polyak step to -scaling*g: scaling divides the effective step"),
    Row("polyak_sgd-sps_plus", sgd_variants.polyak_sgd, polyak_sgd,
        {"max_learning_rate": 0.5, "scaling": 0.5, "eps": 1e-3, "variant": "sps+"},
        schedule=False, extra=("value",)),
    Row("optimistic_gradient_descent", sgd_variants.optimistic_gradient_descent,
        optimistic_gradient_descent, {"learning_rate": 0.05, "alpha": 1.0, "beta": 0.5},
        note="stable only below about half of plain GD's largest lr: at lr 1e-3 it settles into "
             "a 2-cycle in Rosenbrock's valley"),
    Row("rprop", sgd_variants.rprop, rprop, {"learning_rate": 0.01}, schedule=False, complex=False,
        note="optax 0.2.8's rprop applies each step one update late (zeros first; optax PR #1725); "
             "the twin takes the current step from optax's new state. learning_rate is the "
             "initial step size, a number"),
    Row("adagrad", adaptive.adagrad, adagrad, {"learning_rate": 0.1},
        note="optax: accumulator starts at 0.1, eps inside the sqrt; PyTorch: 0 and eps outside"),
    Row("adagrad-torch", adaptive.adagrad, adagrad,
        {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "eps": 0.0},
        note="initial 0 and eps 0: PyTorch's Adagrad exactly (with its eps=0)"),
    Row("adadelta", adaptive.adadelta, adadelta, {"learning_rate": 1.0, "eps": 1e-4}, known=_SQUARES_G),
    Row("adadelta-weight_decay", adaptive.adadelta, adadelta,
        {"learning_rate": 1.0, "eps": 1e-4, "weight_decay": 0.01, "weight_decay_mask": weights_mask},
        known=_SQUARES_G),
    _rmsprop_row("", {}),
    _rmsprop_row("-torch", {"decay": 0.99, "eps_in_sqrt": False},
                 note="PyTorch's RMSprop: alpha 0.99, eps outside the sqrt"),
    _rmsprop_row("-centered", {"centered": True}),
    _rmsprop_row("-centered-eps_outside", {"centered": True, "eps_in_sqrt": False}),
    _rmsprop_row("-momentum", {"momentum": 0.9},
                 note="lr inside the momentum buffer (torch: outside); same for a constant lr"),
    _rmsprop_row("-nesterov", {"momentum": 0.9, "nesterov": True}),
    _rmsprop_row("-bias_correction", {"bias_correction": True}),
    _rmsprop_row("-centered-bias_correction", {"centered": True, "bias_correction": True}, rtol32=2e-3,
                 note="step 1 divides by sqrt(eps + rounding noise) (v_hat - m_hat**2 = 0 exactly): "
                      "keep lr small; the noise (1e-7 of g**2 in float32, its sign too: jaxgd clamps "
                      "it at 0) is each side's own and each compilation's, so float32 agreement is 2e-3",
                 known=(Known(LOW_AND_COMPLEX, ("hand", "optax"),
                              "step 1 divides by sqrt(eps + rounding noise): each dtype's own noise "
                              "(optax's noise can be below -eps: NaN)"),)),
    _rmsprop_row("-initial_scale", {"initial_scale": 1.0}),
    Row("sm3", adaptive.sm3, sm3, {"learning_rate": 0.1, "momentum": 0.9}, schedule=False, complex=False,
        note="optax.sm3 fails on 0-d and empty leaves; its twin views scalars as 1-vectors and "
             "masks empty leaves, as the hand-written rule does"),
    Row("adafactor", factored.adafactor, adafactor, {"learning_rate": 0.01}),
    Row("adafactor-factored", factored.adafactor, adafactor,
        {"learning_rate": 0.01, "min_dim_size_to_factor": 2, "decay_offset": -3},
        note="min_dim_size_to_factor=2 factors the (3, 4) leaf into row and column statistics; "
             "-3 starts the decay late (a positive offset: optax NaN on a fresh count, jaxgd holds "
             "the decay at 0 until the offset is passed)"),
    Row("adafactor-momentum_decay", factored.adafactor, adafactor,
        {"learning_rate": 0.01, "min_dim_size_to_factor": 2, "momentum": 0.9,
         "weight_decay_rate": 1e-3, "clipping_threshold": None},
        note="momentum kept in float32 (dtype_momentum) even for float64 params, as in optax",
        known=(Known(COMPLEX, ("optax",), "optax keeps the momentum in float32 for complex params: "
                     "the imaginary part is dropped"),)),
    Row("lars", layerwise.lars, lars, {"learning_rate": 0.1}),
    Row("lars-decay-nesterov", layerwise.lars, lars,
        {"learning_rate": 0.1, "weight_decay": 1e-2, "weight_decay_mask": weights_mask,
         "nesterov": True, "eps": 1e-6}),
    Row("fromage", layerwise.fromage, fromage, {"learning_rate": 0.01},
        note="every step also shrinks p by 1/sqrt(1 + lr**2): params move under zero gradients"),
)
