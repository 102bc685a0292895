"""Each optimizer's default learning rate, with where the number comes from.

One value per name of `jaxgd.core.names.OPTIMIZERS`: the learning rate a run uses
when none is given (``jaxgd train --optimizer adam`` trains with 1e-3). The values
are the ones the rule's paper, PyTorch's ``torch.optim`` (2.x) or Keras
recommend or take by default; the few rules without a published default say so
and give the reason for jaxgd's choice. The tutorial's XOR job keeps its own
0.5 (`jaxgd.experiments.defaults`). ``docs/optimizers.md`` prints this table.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DEFAULT_LEARNING_RATES", "OWN_STEP_RULES", "TUTORIAL_RULES", "LearningRateDefault",
           "default_learning_rate"]

# the tutorial's rules keep its 0.5 on its XOR job (`jaxgd.experiments.defaults`):
# gradient descent, slide-11 momentum, slide-13 L2
TUTORIAL_RULES = ("sgd", "tutorial_momentum", "sgd_l2")

# rules that set their own step size: the learning rate only scales it (D-Adaptation, DoG,
# Prodigy), scales the gradients (COCOB), or the line search picks the step (L-BFGS);
# 2 / lr is no stability threshold for them
OWN_STEP_RULES = ("cocob", "dadapt_adamw", "dog", "lbfgs", "prodigy")


class LearningRateDefault(NamedTuple):
    """One optimizer's default learning rate and its source."""

    value: float
    source: str  # the paper, library or reason the value comes from


_SGD = "Keras SGD's default (PyTorch's SGD: 1e-3 since 2.2)"
DEFAULT_LEARNING_RATES: dict[str, LearningRateDefault] = {
    "adabelief": LearningRateDefault(1e-3, "Zhuang et al. 2020 and its adabelief-pytorch package"),
    "adadelta": LearningRateDefault(1.0, "PyTorch Adadelta (Zeiler 2012's rule has no rate, i.e. 1)"),
    "adafactor": LearningRateDefault(1e-2, "PyTorch Adafactor (Shazeer & Stern 2018 cap the "
                                           "relative step at 1e-2)"),
    "adagrad": LearningRateDefault(1e-2, "PyTorch Adagrad"),
    "adam": LearningRateDefault(1e-3, "Kingma & Ba 2015 (alpha = 0.001), PyTorch Adam"),
    "adamax": LearningRateDefault(2e-3, "Kingma & Ba 2015, section 7.1 (alpha = 0.002), PyTorch Adamax"),
    "adamaxw": LearningRateDefault(2e-3, "adamax's (the same rule with decoupled weight decay)"),
    "adamw": LearningRateDefault(1e-3, "PyTorch AdamW"),
    "adan": LearningRateDefault(1e-3, "Xie et al. 2022, its reference PyTorch implementation"),
    "ademamix": LearningRateDefault(1e-3, "Pagliardini et al. 2024, the authors' PyTorch AdEMAMix "
                                          "(apple/ml-ademamix)"),
    "adopt": LearningRateDefault(1e-3, "Taniguchi et al. 2024, the authors' PyTorch ADOPT"),
    "amsgrad": LearningRateDefault(1e-3, "Reddi et al. 2018 via PyTorch Adam(amsgrad=True)"),
    "cocob": LearningRateDefault(1.0, "Orabona & Tommasi 2017: learning-rate free (optax.contrib.cocob's "
                                      "1.0; it scales the gradients, to which COCOB is invariant)"),
    "dadapt_adamw": LearningRateDefault(1.0, "Defazio & Mishchenko 2023: learning-rate free, lr multiplies "
                                             "the D-adapted step (optax.contrib.dadapt_adamw's and the "
                                             "authors' DAdaptAdam's 1.0)"),
    "dog": LearningRateDefault(1.0, "Ivgi et al. 2023: learning-rate free, lr multiplies DoG's own step "
                                    "(optax.contrib.dog's default 1.0)"),
    "fromage": LearningRateDefault(1e-2, "Bernstein et al. 2020 (0.01 across their tasks)"),
    "lamb": LearningRateDefault(1e-3, "Keras Lamb"),
    "lars": LearningRateDefault(1.0, "no published default (You et al. 2017 scale a base rate of "
                                     "order 1 with the batch); the trust ratio 1e-3 norm(w)/norm(g) sets "
                                     "the step"),
    "lbfgs": LearningRateDefault(1.0, "Nocedal & Wright 2006: the line search picks the step; lr 1 "
                                      "leaves the direction as it is (optax.lbfgs's learning_rate=None)"),
    "lion": LearningRateDefault(1e-4, "Chen et al. 2023: 3-10x below AdamW's; lion-pytorch's default"),
    "muon": LearningRateDefault(2e-2, "Jordan et al. 2024, the Muon reference implementation's lr 0.02 "
                                      "(its AdamW leaves: the same rate here)"),
    "nadam": LearningRateDefault(2e-3, "Dozat 2016, PyTorch NAdam"),
    "nadamw": LearningRateDefault(2e-3, "nadam's (PyTorch NAdam(decoupled_weight_decay=True))"),
    "noisy_sgd": LearningRateDefault(1e-2, "sgd's (Neelakantan et al. 2015 add noise to SGD)"),
    "novograd": LearningRateDefault(1e-2, "no published default; Ginsburg et al. 2019 train with "
                                          "rates of order 1e-2"),
    "optimistic_adam_v2": LearningRateDefault(1e-3, "adam's (Kingma & Ba 2015); Daskalakis et al. 2018 "
                                                    "publish no default"),
    "optimistic_gradient_descent": LearningRateDefault(1e-2, "sgd's (no published default)"),
    "prodigy": LearningRateDefault(1.0, "Mishchenko & Defazio 2023: learning-rate free, lr multiplies the "
                                        "estimated step (optax.contrib.prodigy's and prodigyopt's 1.0)"),
    "radam": LearningRateDefault(1e-3, "Liu et al. 2020, PyTorch RAdam"),
    "rmsprop": LearningRateDefault(1e-2, "PyTorch RMSprop (Keras: 1e-3)"),
    "rprop": LearningRateDefault(1e-2, "PyTorch Rprop (the first step size)"),
    "sam": LearningRateDefault(5e-2, "Foret et al. 2021 (outer SGD lr 0.05 with rho 0.05 on CIFAR "
                                     "WideResNets, scaled from 0.1 at batch 256)"),
    "schedule_free_adamw": LearningRateDefault(2.5e-3, "Defazio et al. 2024, the authors' PyTorch "
                                                       "AdamWScheduleFree (facebookresearch/schedule_free) "
                                                       "and optax.contrib.schedule_free_adamw: 0.0025"),
    "schedule_free_sgd": LearningRateDefault(1.0, "Defazio et al. 2024, the authors' PyTorch "
                                                  "SGDScheduleFree and optax.contrib.schedule_free_sgd: 1.0"),
    "sgd": LearningRateDefault(1e-2, _SGD),
    "sgd_l2": LearningRateDefault(1e-2, "sgd's"),
    "sign_sgd": LearningRateDefault(1e-3, "no published default; a sign step moves every weight by "
                                          "lr, so lion's order of magnitude, x10 without momentum"),
    "signum": LearningRateDefault(1e-3, "no published default; as sign_sgd"),
    "sm3": LearningRateDefault(1e-2, "adagrad's (Anil et al. 2019: Adagrad with shared accumulators)"),
    "tutorial_momentum": LearningRateDefault(1e-2, "sgd's"),
    "yogi": LearningRateDefault(1e-2, "Zaheer et al. 2018 (eta = 1e-2)"),
}


def default_learning_rate(optimizer: str) -> LearningRateDefault:
    """The default learning rate of ``optimizer`` (a name of `DEFAULT_LEARNING_RATES`).

    Raises:
        UnknownNameError: ``optimizer`` is not in the table, naming those that are.
    """
    from jaxgd.core.errors import check_choice

    check_choice("optimizer", optimizer, DEFAULT_LEARNING_RATES)
    return DEFAULT_LEARNING_RATES[optimizer]
