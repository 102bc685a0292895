"""What the table-driven tests do with each row of `jaxgd.reference.OPTIMIZERS`.

The table (jaxgd/reference) holds what the library needs: the two factories, the
kwargs, capabilities and the agreement tolerances `jaxgd crosscheck` uses. The
settings that only the tests read live here, keyed by row id: which hyperparameters
hypothesis draws, which arguments must be refused, and how the rule is run to the
minimum of the parabola and of Rosenbrock's function. test_optimizers.py checks that
every row has settings and that no settings key is a stale id.
"""

from __future__ import annotations

from typing import NamedTuple

from jaxgd.reference import row


class Settings(NamedTuple):
    """Test settings of one row.

    Attributes:
        ranges: float hyperparameters drawn in property tests: name -> (low, high).
        invalid: (bad kwargs, argument name the error must mention) pairs.
        minimize: kwargs for the parabola/Rosenbrock tests, or None to skip them.
        parabola_tol, rosen_tol: distance to the minimum reached in `steps` steps.
        steps: steps for the minimisation tests.
        zero_grad_fixed: zero gradients leave params unchanged.
        rounding_k: a factor on the low-precision rounding bound of test_precision, for a
            rule whose update is ill-conditioned in its inputs (1: the plain bound).
    """

    ranges: dict = {}
    invalid: tuple = ()
    minimize: dict | None = None
    parabola_tol: float = 1e-2
    rosen_tol: float = 5e-2
    steps: int = 1000
    zero_grad_fixed: bool = True
    rounding_k: float = 1.0


def _bad(arg: str, *values) -> tuple:
    """(bad kwargs, argument name) pairs: ``arg`` set to each of ``values``."""
    return tuple(({arg: v}, arg) for v in values)


def _decaying_lr(count):
    """NovoGrad's and LAMB's steps do not shrink near a minimum by themselves."""
    return 0.05 * 0.998 ** count


def _sign_lr(count):
    """Sign rules with a constant lr zig-zag in Rosenbrock's valley."""
    return 0.01 * 0.999 ** count


def _prodigy_lr(count):
    """Prodigy's paper runs lr 1 with a decay; constant, it circles in Rosenbrock's valley."""
    return 0.999 ** count


_BAD_LR = _bad("learning_rate", -0.1, 0.0, float("nan"))
_BAD_MOMENTUM = _BAD_LR + _bad("momentum", 1.0, -0.5)
_BAD_EPS = _bad("eps", -1.0)
_BAD_B = _BAD_LR + _bad("b1", 1.0, -0.1) + _bad("b2", 1.5, -0.1)
_BAD_ADAM = _BAD_B + _BAD_EPS + _bad("eps_root", -1e-8)
_BAD_WD = _bad("weight_decay", -0.1, float("inf"))
_BAD_RMS = _BAD_LR + _BAD_EPS + _bad("decay", 1.0) + _bad("initial_scale", -1.0) + _bad("momentum", 1.5)
_MOMENTUM = {"momentum": (0.0, 0.99)}
_MOMENTUM_MIN = {"learning_rate": 0.0005, "momentum": 0.9}
_ADAM_RANGES = {"b1": (0.0, 0.99), "b2": (0.5, 0.9999), "eps": (1e-8, 1e-3)}
_B_RANGES = {"b1": (0.0, 0.99), "b2": (0.5, 0.9999)}
_WD_RANGES = {**_ADAM_RANGES, "weight_decay": (0.0, 0.5)}
_RMS_RANGES = {"decay": (0.5, 0.999), "eps": (1e-4, 1e-2)}
_ADAM_MIN = {"minimize": {"learning_rate": 0.02}, "steps": 2000, "rosen_tol": 0.1}
_NO_ZERO = {"zero_grad_fixed": False}
# COCOB's step divides its running gradient sum by a sum of |g| that nearly cancels it, so its
# low-precision updates leave the plain rounding bound by up to ~1.1x on random streams (8 of
# 60 draws in float32 and bfloat16); 2x keeps the check tight without flaking
_COCOB_K = 2.0
# SAM's adversarial point w + rho g/||g|| is ill-conditioned where ||g|| is small (near the minimum
# of the loss rows' objective, after ~60 steps): float16/bfloat16 stay within 2x the plain bound;
# float32, which follows its own trajectory there, is a documented exception of the rows (Row.known)
_SAM_K = 2.0
# schedule-free's update takes z_{t+1} - z_t from z stored in the params' dtype (as optax), so it
# carries z's rounding, eps |z|, where the bound scales with |u|: a small lr (the warmup rows' first
# steps) left it by up to 1.15x in float32 on drawn streams, the
# warmup_wd row by 2.5x at its first step (seed 76092: 1.07e-7 against 4.2e-8)
_SF_K = 4.0
# schedule-free: b1 in (0, 1) (x = (y - (1 - b1) z) / b1), an int warmup >= 1, a float lr with a warmup
_BAD_SF = (_BAD_LR + _bad("b1", 0.0, 1.0, -0.1, float("nan")) + _bad("warmup_steps", -1, 0, 2.5, True)
           + _bad("weight_lr_power", -1.0, float("inf")) + _bad("state_dtype", "int32", "complex64")
           + (({"warmup_steps": 3, "learning_rate": _decaying_lr}, "learning_rate"),))


def _rmsprop(row_id: str, lr: float = 0.01, steps: int = 2000, rosen_tol: float = 0.1) -> Settings:
    """An rmsprop row, minimised with its own kwargs at learning rate ``lr``."""
    minimize = {**row(row_id).kwargs, "learning_rate": lr}
    return Settings(_RMS_RANGES, _BAD_RMS, minimize, steps=steps, rosen_tol=rosen_tol)


SETTINGS: dict[str, Settings] = {
    # jaxgd/reference/core.py
    "sgd": Settings(invalid=_BAD_LR, minimize={"learning_rate": 0.002}, steps=4000, rosen_tol=0.2),
    "sgd-momentum": Settings(_MOMENTUM, _BAD_MOMENTUM, _MOMENTUM_MIN, steps=3000),
    "sgd-nesterov": Settings(_MOMENTUM, _BAD_MOMENTUM,
                             {"learning_rate": 0.0005, "momentum": 0.9, "nesterov": True}, steps=3000),
    "tutorial_momentum": Settings(_MOMENTUM, _BAD_MOMENTUM, _MOMENTUM_MIN, steps=3000),
    "sgd_l2": Settings({"l2": (0.0, 0.1)}, _BAD_LR + _bad("l2", -1.0), **_NO_ZERO),
    "adam": Settings(_ADAM_RANGES, _BAD_ADAM, **_ADAM_MIN),
    "adam-nesterov": Settings(_B_RANGES, _BAD_ADAM, {"learning_rate": 0.02, "nesterov": True}, steps=2000,
                              rosen_tol=0.1),
    "adam-eps_root": Settings({"eps_root": (0.0, 1e-3)}, _BAD_ADAM),
    # jaxgd/reference/adam_family.py
    "adamw": Settings(_WD_RANGES, _BAD_ADAM + _BAD_WD, {"learning_rate": 0.02, "weight_decay": 1e-4},
                      steps=2000, rosen_tol=0.1, **_NO_ZERO),
    "adamw-mask": Settings(_WD_RANGES, _BAD_WD, **_NO_ZERO),
    "adamw-wd_schedule": Settings(**_NO_ZERO),
    "nadam": Settings(_ADAM_RANGES, _BAD_ADAM, **_ADAM_MIN),
    "nadamw": Settings(_WD_RANGES, _BAD_ADAM + _BAD_WD, **_NO_ZERO),
    "amsgrad": Settings(_ADAM_RANGES, _BAD_ADAM, {"learning_rate": 0.5}, steps=3000, rosen_tol=0.1),
    "amsgrad-raw_nu": Settings(_ADAM_RANGES, _BAD_ADAM),
    "adamax": Settings(_ADAM_RANGES, _BAD_B + _BAD_EPS, {"learning_rate": 0.05}, steps=3000, rosen_tol=0.1),
    "adamaxw": Settings(_WD_RANGES, _BAD_LR + _BAD_WD, **_NO_ZERO),
    "radam": Settings({**_ADAM_RANGES, "threshold": (4.0, 60.0)},
                      _BAD_ADAM + _bad("threshold", float("nan"), 3.0),
                      {"learning_rate": 0.005, "b2": 0.99}, steps=4000, rosen_tol=0.1),
    "radam-threshold": Settings({"threshold": (4.0, 60.0)}, _BAD_LR),
    "radam-nesterov": Settings(_ADAM_RANGES, _BAD_ADAM),
    "adabelief": Settings({**_ADAM_RANGES, "eps": (1e-16, 1e-3), "eps_root": (1e-16, 1e-3)}, _BAD_ADAM,
                          **_ADAM_MIN),
    "adabelief-nesterov": Settings(_ADAM_RANGES, _BAD_ADAM),
    "yogi": Settings({**_ADAM_RANGES, "eps": (1e-6, 1e-2)}, _BAD_B + _BAD_EPS, {"learning_rate": 0.05},
                     steps=2000, rosen_tol=0.1, **_NO_ZERO),
    "adan": Settings({**_ADAM_RANGES, "b3": (0.5, 0.999)}, _BAD_ADAM + _bad("b3", 1.0), **_ADAM_MIN),
    "adan-wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_LR + _BAD_WD, **_NO_ZERO),
    "novograd": Settings({"b1": (0.0, 0.99), "b2": (0.0, 0.99), "eps": (1e-8, 1e-3)}, _BAD_ADAM,
                         {"learning_rate": _decaying_lr}, steps=3000, rosen_tol=0.1),
    "novograd-wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_LR + _BAD_WD, **_NO_ZERO),
    "lamb": Settings(_ADAM_RANGES, _BAD_ADAM, {"learning_rate": _decaying_lr}, steps=3000, rosen_tol=0.1),
    "lamb-wd_mask": Settings(_WD_RANGES, _BAD_LR + _BAD_WD, **_NO_ZERO),
    # jaxgd/reference/contrib.py
    "adopt": Settings(_ADAM_RANGES, _BAD_B + _BAD_EPS, {"learning_rate": 0.02, "b2": 0.99}, steps=2000,
                      rosen_tol=0.1),
    "adopt-nesterov_noclip": Settings(_ADAM_RANGES, _BAD_B + _BAD_EPS),
    "ademamix": Settings({**_ADAM_RANGES, "b3": (0.5, 0.9999), "alpha": (0.0, 10.0)},
                         _BAD_ADAM + _bad("b3", 1.0, -0.1) + _bad("alpha", -1.0, float("nan")),
                         {"learning_rate": 0.005, "b3": 0.99}, steps=3000, rosen_tol=0.1),
    "ademamix-warmup_wd": Settings(_WD_RANGES, _BAD_LR + _BAD_WD, **_NO_ZERO),
    "muon": Settings({"beta": (0.0, 0.99), "adam_b1": (0.0, 0.99), "adam_b2": (0.5, 0.9999)},
                     _BAD_LR + _BAD_EPS + _bad("beta", 1.0, -0.1) + _bad("ns_steps", 0)
                     + _bad("ns_coeffs", (1.0, 2.0)) + _bad("adam_b1", 1.0) + _bad("adam_b2", 1.5)
                     + _bad("adam_learning_rate", -0.1) + _bad("consistent_rms", 0.0),
                     **_ADAM_MIN),
    "muon-plain_wd_rms": Settings({"weight_decay": (0.0, 0.5), "adam_weight_decay": (0.0, 0.5)},
                                  _BAD_LR + _BAD_WD + _bad("adam_weight_decay", -0.1), **_NO_ZERO),
    "dog": Settings({"eps": (0.0, 1e-4)},
                    _BAD_LR + _BAD_EPS + _bad("init_step", ("guess", 1e-6), ("heuristic", 0.0), 1e-6)
                    + _BAD_WD, {"learning_rate": 1.0, "init_step": ("distance", 0.1)}, steps=5000,
                    rosen_tol=0.2),  # DoG's step shrinks like AdaGrad-norm's: slow in the valley
    "dog-distance_wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_WD, **_NO_ZERO),
    "dog-first_lr": Settings(invalid=_bad("init_step", ("learning_rate", -1.0))),
    "prodigy": Settings({"eps": (1e-10, 1e-6)},
                        _BAD_LR + _BAD_EPS + _bad("betas", (1.0, 0.999), (0.9, -0.1), 0.9)
                        + _bad("beta3", 1.0) + _bad("estim_lr0", 0.0, -1e-6) + _bad("estim_lr_coef", 0.0)
                        + _bad("weight_decay", -0.1), {"learning_rate": _prodigy_lr}, steps=2000,
                        rosen_tol=0.1),
    "prodigy-wd_b3_safeguard": Settings({"beta3": (0.5, 0.99), "weight_decay": (0.0, 0.5)},
                                        _bad("weight_decay", float("inf")), **_NO_ZERO),
    "cocob": Settings({"alpha": (1.0, 200.0), "eps": (1e-10, 1e-4)},
                      _BAD_LR + _bad("alpha", 0.0, -1.0, float("nan")) + _bad("eps", 0.0, -1.0) + _BAD_WD,
                      {"learning_rate": 1.0, "alpha": 10.0}, steps=5000, rosen_tol=0.2, rounding_k=_COCOB_K),
    "cocob-alpha_wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_WD, **_NO_ZERO, rounding_k=_COCOB_K),
    # jaxgd/reference/contrib_schedule_free.py
    "schedule_free_sgd": Settings({"b1": (0.05, 0.99), "weight_lr_power": (0.0, 4.0)}, _BAD_SF + _BAD_WD,
                                  {"learning_rate": 0.005}, steps=8000, rounding_k=_SF_K),
    "schedule_free_sgd-warmup_wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_WD, **_NO_ZERO,
                                            rounding_k=_SF_K),
    "schedule_free_adamw": Settings({"b1": (0.05, 0.99), "b2": (0.5, 0.9999), "eps": (1e-8, 1e-3),
                                     "weight_lr_power": (0.0, 4.0)},
                                    _BAD_SF + _bad("b2", 1.0, -0.1) + _BAD_EPS + _BAD_WD,
                                    {"learning_rate": 0.02}, steps=2000, rosen_tol=0.1, rounding_k=_SF_K),
    "schedule_free_adamw-warmup_wd": Settings({"weight_decay": (0.0, 0.5)}, _BAD_WD, **_NO_ZERO,
                                              rounding_k=_SF_K),
    # jaxgd/reference/contrib_dadapt.py
    "dadapt_adamw": Settings({"eps": (1e-10, 1e-6), "estim_lr0": (1e-8, 1e-4)},
                             _BAD_LR + _bad("eps", 0.0, -1.0) + _bad("betas", (1.0, 0.999), (0.9, -0.1), 0.9)
                             + _bad("estim_lr0", 0.0, -1e-6) + _BAD_WD, {"learning_rate": _prodigy_lr},
                             steps=2000, rosen_tol=0.1),
    "dadapt_adamw-wd_betas": Settings({"weight_decay": (0.0, 0.5)}, _BAD_WD, **_NO_ZERO),
    "optimistic_adam_v2": Settings({**_ADAM_RANGES, "alpha": (0.0, 2.0), "beta": (0.0, 2.0)},
                                   _BAD_ADAM + _bad("alpha", -1.0, float("nan")) + _bad("beta", -0.5),
                                   **_ADAM_MIN),
    "optimistic_adam_v2-plain": Settings(_ADAM_RANGES, _BAD_ADAM),
    # jaxgd/reference/others.py
    "noisy_sgd": Settings({"eta": (0.0, 0.1), "gamma": (0.0, 1.0)},
                          _BAD_LR + _bad("eta", -1.0) + _bad("gamma", -0.5) + _bad("key", 1.5),
                          {"learning_rate": 0.002, "eta": 1e-3, "key": 0}, steps=4000, rosen_tol=0.2,
                          **_NO_ZERO),
    "sign_sgd": Settings(invalid=_BAD_LR, minimize={"learning_rate": _sign_lr}, steps=6000),
    "signum": Settings({"beta": (0.0, 0.99)}, _BAD_LR + _bad("beta", 1.0), {"learning_rate": _sign_lr},
                       steps=6000),
    "lion": Settings({"b1": (0.0, 0.99), "b2": (0.0, 0.999), "weight_decay": (0.0, 0.1)},
                     _BAD_LR + _bad("b1", 1.0) + _bad("b2", -0.1) + _BAD_WD,
                     {"learning_rate": _sign_lr, "weight_decay": 0.0}, steps=6000, **_NO_ZERO),
    "lion-masked_decay": Settings(**_NO_ZERO),
    "polyak_sgd": Settings({"max_learning_rate": (0.1, 2.0), "f_min": (-1.0, 0.0), "eps": (0.0, 1e-2)},
                           _bad("max_learning_rate", -1.0) + _bad("scaling", 0.0) + _BAD_EPS
                           + _bad("f_min", float("inf")),
                           {"max_learning_rate": 0.5}, steps=2000),
    "polyak_sgd-sps_plus": Settings({"max_learning_rate": (0.1, 2.0), "scaling": (0.1, 2.0)}),
    "optimistic_gradient_descent": Settings({"alpha": (0.0, 2.0), "beta": (0.0, 2.0)},
                                            _BAD_LR + _bad("alpha", -1.0) + _bad("beta", float("nan")),
                                            {"learning_rate": 4.5e-4}, steps=20000, rosen_tol=0.05),
    "rprop": Settings({"eta_minus": (0.1, 0.9), "eta_plus": (1.0, 2.0)},
                      _BAD_LR + _bad("eta_minus", 1.5) + _bad("eta_plus", 0.5) + _bad("min_step_size", -1.0)
                      + _bad("max_step_size", 0.0),
                      {"learning_rate": 0.01}, steps=2000),
    "adagrad": Settings({"initial_accumulator_value": (0.0, 1.0), "eps": (0.0, 1e-3)},
                        _BAD_LR + _BAD_EPS + _bad("initial_accumulator_value", -1.0),
                        {"learning_rate": 0.5}, steps=3000, rosen_tol=0.1),
    "adagrad-torch": Settings(),
    "adadelta": Settings({"rho": (0.5, 0.99), "eps": (1e-6, 1e-2)},
                         _BAD_LR + _BAD_EPS + _bad("rho", 1.0) + _BAD_WD, {"learning_rate": 0.1},
                         steps=6000, rosen_tol=0.05),
    "adadelta-weight_decay": Settings({"weight_decay": (0.0, 0.1)}, **_NO_ZERO),
    "rmsprop": _rmsprop("rmsprop"),
    "rmsprop-torch": _rmsprop("rmsprop-torch", lr=0.003, steps=3000),
    "rmsprop-centered": _rmsprop("rmsprop-centered"),
    "rmsprop-centered-eps_outside": _rmsprop("rmsprop-centered-eps_outside"),
    "rmsprop-momentum": _rmsprop("rmsprop-momentum"),
    "rmsprop-nesterov": _rmsprop("rmsprop-nesterov"),
    "rmsprop-bias_correction": _rmsprop("rmsprop-bias_correction"),
    "rmsprop-centered-bias_correction": _rmsprop("rmsprop-centered-bias_correction", lr=3e-4, rosen_tol=0.15),
    "rmsprop-initial_scale": _rmsprop("rmsprop-initial_scale"),
    "sm3": Settings(_MOMENTUM, _BAD_LR + _bad("momentum", 1.0), {"learning_rate": 1.0}, steps=3000,
                    rosen_tol=0.05),
    "adafactor": Settings({"decay_rate": (0.5, 1.0)},
                          _BAD_LR + _BAD_EPS + _bad("clipping_threshold", 0.0) + _bad("momentum", 1.0)
                          + _bad("min_dim_size_to_factor", 0),
                          {"learning_rate": 0.01, "multiply_by_parameter_scale": False}, steps=3000,
                          rosen_tol=0.2),
    "adafactor-factored": Settings({"decay_rate": (0.5, 1.0), "clipping_threshold": (0.1, 2.0)}),
    "adafactor-momentum_decay": Settings({"momentum": (0.0, 0.99), "weight_decay_rate": (0.0, 0.01)},
                                         **_NO_ZERO),
    "lars": Settings({"trust_coefficient": (1e-3, 1.0), "momentum": (0.0, 0.99)},
                     _BAD_LR + _BAD_EPS + _BAD_WD + _bad("trust_coefficient", 0.0) + _bad("momentum", 1.0),
                     {"learning_rate": 0.5, "trust_coefficient": 0.01}, steps=3000, rosen_tol=0.2),
    "lars-decay-nesterov": Settings({"weight_decay": (0.0, 0.1)}, **_NO_ZERO),
    "fromage": Settings({"min_norm": (0.0, 1e-3)}, _BAD_LR + _bad("min_norm", -1.0), {"learning_rate": 0.01},
                        steps=4000, **_NO_ZERO),
    # jaxgd/reference/wrappers.py
    "clip": Settings({"max_delta": (0.05, 3.0)}, _BAD_LR + _bad("max_delta", -1.0),
                     {"learning_rate": 0.002, "max_delta": 1.0}, steps=4000, rosen_tol=0.2),
    "clip_by_global_norm": Settings({"max_norm": (0.5, 10.0), **_MOMENTUM},
                                    _BAD_MOMENTUM + _bad("max_norm", 0.0, -1.0),
                                    {"learning_rate": 0.0005, "max_norm": 10.0}, steps=3000),
    "clip_by_block_rms": Settings({"threshold": (0.1, 3.0)}, _BAD_LR + _bad("threshold", 0.0),
                                  {"learning_rate": 0.002, "threshold": 1.0}, steps=4000, rosen_tol=0.2),
    "ema": Settings({"decay": (0.0, 0.99)}, _BAD_LR + _bad("decay", 1.0, -0.1),
                    {"learning_rate": 0.002, "decay": 0.9}, steps=4000, rosen_tol=0.2),
    "ema-no_debias": Settings({"decay": (0.0, 0.99)}, _BAD_LR + _bad("decay", 1.0)),
    "masked": Settings(_B_RANGES, _BAD_LR + _bad("b1", 1.0), {"learning_rate": 0.002}, steps=4000,
                       rosen_tol=0.2),
    "freeze": Settings(_MOMENTUM, _BAD_MOMENTUM),
    "multi_transform": Settings(_MOMENTUM, _BAD_MOMENTUM, _MOMENTUM_MIN, steps=3000),
    "apply_if_finite": Settings(_MOMENTUM, _BAD_MOMENTUM + _bad("max_consecutive_errors", -1), _MOMENTUM_MIN,
                                steps=3000),
    "MultiSteps": Settings(invalid=_BAD_LR + _bad("every_k_schedule", 0), minimize={"learning_rate": 0.02},
                           steps=6000, rosen_tol=0.1),
    "MultiSteps-sum": Settings(_MOMENTUM, _BAD_MOMENTUM),
    "inject_hyperparams": Settings(_MOMENTUM, _BAD_MOMENTUM, _MOMENTUM_MIN, steps=3000),
    "inject_hyperparams-adam": Settings(_B_RANGES, _BAD_LR + _bad("b1", 1.0) + _BAD_EPS),
    # jaxgd/reference/contrib_lbfgs_sam.py (loss rows: the rule evaluates the objective, so no
    # zero-gradient phase; a line search reaches both minima in a few dozen steps)
    "lbfgs": Settings(invalid=_BAD_LR + _bad("memory_size", 0, -1, 2.5) + _bad("scale_init_precond", 1)
                      + _bad("linesearch", "backtracking", 3),
                      minimize={"learning_rate": 1.0}, steps=60, parabola_tol=1e-5, rosen_tol=1e-4,
                      **_NO_ZERO),
    "lbfgs-m3_no_scale": Settings(invalid=_bad("memory_size", 0), minimize={"memory_size": 3}, steps=100,
                                  parabola_tol=1e-5, rosen_tol=1e-4, **_NO_ZERO),
    "sam": Settings({"rho": (0.01, 0.2)},
                    _BAD_LR + _bad("rho", 0.0, -0.1, float("nan")) + _bad("sync_period", 0, -1, 1.5)
                    + _bad("opaque_mode", False) + _bad("reset_state", 0),
                    {"learning_rate": 0.002, "rho": 1e-3}, steps=4000, parabola_tol=2e-2, rosen_tol=0.2,
                    rounding_k=_SAM_K, **_NO_ZERO),
    "sam-sync3_momentum": Settings({"rho": (0.01, 0.2), "momentum": (0.0, 0.9)}, _bad("momentum", 1.0),
                                   rounding_k=_SAM_K, **_NO_ZERO),
}
