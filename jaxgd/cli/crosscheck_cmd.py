"""``jaxgd crosscheck``: run hand-written rules and their optax twins in lockstep.

Examples::

    jaxgd crosscheck --optimizer all
    jaxgd crosscheck --optimizer adam --dtype float64 --schedule exponential
    jaxgd crosscheck --optimizer sgd-momentum --momentum 0.5 --mode loss --json
    jaxgd crosscheck --hand mypkg.rules:my_rmsprop --reference rmsprop --eps 1e-3
    jaxgd crosscheck --optimizer all --dtype bfloat16 --oracle float64

Exit status: 0 when every pair agrees (or departs only as the table documents), 1
when any pair differs beyond tolerance, departs from the oracle, or holds a NaN or
inf, 2 on bad input.
"""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from jaxgd.cli.common import add_flag, start_compile_cache
from jaxgd.core.deprecation import renamed_value
from jaxgd.core.errors import (
    ConfigError,
    UnknownNameError,
    check_choice,
    check_nonnegative,
    check_positive_int,
    suggest,
)
from jaxgd.core.limits import MAX_INT32
from jaxgd.core.names import RENAMED_SCHEDULES, SCHEDULES
from jaxgd.experiments.fields import parse_assignments

DTYPES = ("float32", "float64", "float16", "bfloat16", "complex64")
FLAGS = {"learning_rate": "--learning-rate", "momentum": "--momentum", "b1": "--b1", "b2": "--b2",
         "eps": "--eps", "weight_decay": "--weight-decay"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "crosscheck", help="run hand-written rules and their optax twins in lockstep",
        description="Run hand-written rules and their optax twins in lockstep; print one row "
                    "per optimizer: deviation, first divergent step and leaf, verdict.",
        epilog=__doc__.split("\n\n", 1)[1].replace("Examples::", "examples:"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(p, "--optimizer", metavar="NAME|ID|all", show_default="none: give it or --hand",
             help="a row id or rule name (sgd = sgd, sgd-momentum, sgd-nesterov), all, or a comma list")
    for name, flag in FLAGS.items():
        add_flag(p, flag, *(["--lr"] if name == "learning_rate" else []), dest=name, type=float,
                 metavar="X", help="hyperparameter for every rule that takes it",
                 show_default="the row's own")
    add_flag(p, "--set", action="append", default=[], metavar="KEY=VALUE",
             show_default="the row's own",
             help="any other keyword argument, repeatable (true, none, 1e-3, (0.9, 0.99), 'text')")
    add_flag(p, "--steps", type=_steps, default=200, metavar="N",
             help=f"updates per check, at most {MAX_INT32:,} and what memory holds")
    add_flag(p, "--dtype", default="float32", choices=DTYPES, metavar="DTYPE",
             help="dtype of params and gradients (float64 enables x64)")
    add_flag(p, "--oracle", choices=("float64",), metavar="float64",
             help="also run the hand rule in float64 on the same gradients and compare both "
             "sides with it (eps-scaled tolerance)", show_default="none")
    add_flag(p, "--schedule", metavar="NAME", choices=SCHEDULES,
             help="learning-rate schedule built by hand and with optax (jaxgd.schedules.table)",
             show_default="a constant learning rate")
    add_flag(p, "--same-schedule", action="store_true", help="feed the hand-built schedule to both sides")
    add_flag(p, "--mode", default="stream", choices=("stream", "loss"), metavar="MODE",
             help="stream: shared random gradients; loss: each side on its own loss gradients "
                  "(rules that evaluate the objective themselves, lbfgs and sam, always run in loss mode)")
    add_flag(p, "--seed", type=int, default=0, help="seed of the gradient stream")
    add_flag(p, "--rtol", type=float, help="relative tolerance", show_default="by dtype")
    add_flag(p, "--atol", type=float, help="absolute tolerance",
             show_default="rtol times the leaf's largest magnitude")
    add_flag(p, "--json", action="store_true", help="print one JSON document")
    add_flag(p, "--per-step", action="store_true",
             help="print each report's per-step table (with --json: per-step numbers)")
    add_flag(p, "--hand", metavar="MODULE:FACTORY",
             help="your own rule factory, checked against --reference with the same kwargs. "
             "jaxgd imports and runs MODULE (from the current folder or sys.path): pass only "
             "code you trust", show_default="none: the table's rows")
    add_flag(p, "--reference", metavar="NAME", help="the optax twin (row id or twin name) for --hand",
             show_default="none")
    p.set_defaults(func=run)


def _steps(text: str) -> int:
    """An integer, also written 1e3; whether it is in range is `run`'s check."""
    try:
        return int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; e.g. --steps 200") from None
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; e.g. --steps 200") from None
        return int(value)


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments given on the command line: the named flags, then ``--set``."""
    out = {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
    out.update(parse_assignments(args.set))
    return out


def _accepts(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _flag(name: str) -> str:
    return FLAGS.get(name, f"--set {name}=...")


def user_row(spec: str, reference: str | None) -> Any:
    """A table row pairing the user's factory (built and checked by
    `jaxgd.optimizers.user_rules.build_rule`) with the reference twin (and its settings)."""
    import jaxgd.reference as ref
    from jaxgd.experiments.config import optimizer_names
    from jaxgd.optimizers.user_rules import build_rule, load_factory

    if not reference:
        raise ConfigError(f"--hand={spec!r} needs --reference NAME, the optax twin to check it "
                          "against (a row id such as rmsprop; `jaxgd optimizers` lists them).")
    load_factory(spec)  # a missing module or name: refused before the reference is looked up
    rows = [r for r in ref.OPTIMIZERS if r.id == reference]
    if rows:
        base = rows[0]
    else:
        twins = [n for m in (ref.core, ref.adam_family, ref.others, ref.wrappers)
                 for n in getattr(m, "__all__", ()) if n[0].islower() and callable(getattr(ref, n, None))]
        if reference not in twins:  # any twin is taken; the row ids and rules are listed
            shown = {r.id for r in ref.OPTIMIZERS} | set(optimizer_names())
            raise UnknownNameError(f"unknown reference {reference!r} (--reference)."
                                   + suggest(reference, shown, kind="reference"))
        base = ref.Row(reference, None, getattr(ref, reference), {})

    def hand(**kwargs: Any) -> Any:
        return build_rule(spec, **kwargs)

    hand.__qualname__ = hand.__name__ = spec
    hand.__module__ = ""
    return base._replace(id=f"{spec} vs {reference}", hand=hand)


def probe_user_row(spec: str, row: Any, kwargs: dict) -> None:
    """One abstract init and update of the user's rule on the check's params (no compute)."""
    import jax
    import jax.numpy as jnp

    from jaxgd.crosscheck.rows import example_params
    from jaxgd.optimizers.user_rules import probe_rule

    tx = row.hand(**{**row.kwargs, **kwargs})
    params = jax.eval_shape(lambda: example_params(jnp.float32))
    probe_rule(spec, tx, params, {name: jnp.float32(0) for name in row.extra})


def check_tolerance_flags(args: argparse.Namespace) -> None:
    """--rtol and --atol: finite and >= 0 (0 and 0: the two sides must be equal bit for bit)."""
    if args.rtol is not None:
        check_nonnegative("--rtol", args.rtol, fix="e.g. --rtol 1e-5, or leave it out for the "
                          "default by dtype.")
    if args.atol is not None:
        check_nonnegative("--atol", args.atol, fix="e.g. --atol 1e-8, or leave it out for rtol "
                          "times the leaf's largest magnitude.")


def _row_kwargs(rows: tuple, overrides: dict, user: bool) -> list[dict]:
    """Each row's overrides: a flag applies to every row whose rule takes it."""
    per_row = [{k: v for k, v in overrides.items() if _accepts(r.ref if user else r.hand, k)}
               for r in rows]
    for name in overrides:
        if not any(name in kw for kw in per_row):
            raise ConfigError(f"{_flag(name)}: no selected rule takes {name!r} "
                              f"({', '.join(r.id for r in rows)}). Drop it or pick another optimizer.")
    return per_row


def _summary(report: Any) -> dict[str, Any]:
    return {"id": report.label, "updates": report.max_scaled("updates"),
            "params": report.max_scaled("params"), "verdict": report.verdict,
            "documented": report.documented, "first": report.summary()}


def run(args: argparse.Namespace) -> int:
    steps = check_positive_int("--steps", args.steps, fix="e.g. --steps 200.")
    if steps > MAX_INT32:
        raise ConfigError(f"--steps {steps:,} is more than the int32 step counter holds; accepted: "
                          f"1..{MAX_INT32:,}. A few hundred steps show where two rules part.")
    check_tolerance_flags(args)
    dtype = check_choice("dtype", args.dtype, DTYPES)
    mode = check_choice("mode", args.mode, ("stream", "loss"))
    schedule = None if args.schedule is None else check_choice(  # an old name: renamed, warned
        "schedule", renamed_value("schedule", args.schedule, RENAMED_SCHEDULES), SCHEDULES)
    if args.same_schedule and schedule is None:
        raise ConfigError("--same-schedule needs --schedule NAME (e.g. --schedule exponential).")
    start_compile_cache(args)
    from jaxgd.core.precision import UnsupportedDtypeError  # JAX: after the flags are checked
    from jaxgd.crosscheck.rows import crosscheck_row, select_rows

    overrides = overrides_from(args)
    if args.hand:
        rows = (user_row(args.hand, args.reference),)
    elif args.optimizer:
        if args.reference:
            raise ConfigError("--reference goes with --hand MODULE:FACTORY; drop it or add --hand.")
        rows = select_rows(args.optimizer)
    else:
        raise ConfigError("pass --optimizer NAME|ID|all (e.g. --optimizer adam), or --hand "
                          "MODULE:FACTORY with --reference NAME.")
    scheduled = [r.schedule and "learning_rate" in {**r.kwargs, **overrides} for r in rows]
    if schedule is not None and not any(scheduled):
        raise ConfigError(f"--schedule {schedule}: none of {', '.join(r.id for r in rows)} "
                          "takes a learning-rate schedule.")
    settings = {"steps": steps, "dtype": dtype, "mode": mode, "schedule": schedule,
                "same_schedule": args.same_schedule, "seed": args.seed, "overrides": overrides,
                "rtol": args.rtol, "atol": args.atol, "oracle": args.oracle}
    per_row = _row_kwargs(rows, overrides, bool(args.hand))
    if args.hand:  # a broken rule is bad input (exit 2), found before any work
        probe_user_row(args.hand, rows[0], per_row[0])
    width = max(28, *(len(r.id) for r in rows))
    if not args.json:
        print(_header(settings, width), flush=True)
    reports, refused = [], []
    for r, kw, sched in zip(rows, per_row, scheduled, strict=True):
        try:
            reports.append(crosscheck_row(
                r, dtype=dtype, steps=steps, schedule=schedule if sched else None,
                same_schedule=args.same_schedule, mode=mode, key=args.seed, rtol=args.rtol,
                atol=args.atol, oracle=args.oracle, **kw))
        except UnsupportedDtypeError as err:  # the table says the rule takes real params only
            refused.append({"id": r.id, "reason": str(err)})
            if not args.json:
                print(f"{r.id:{width}} {'':9} {'':9}  refused: real params only", flush=True)
            continue
        if not args.json:
            print(_line(reports[-1], width), flush=True)
    failed = any(not rep.ok for rep in reports)
    if args.json:
        verdict = "fail" if failed else "agree" if all(rep.agree for rep in reports) else "documented"
        doc = {"command": "crosscheck", "settings": settings, "verdict": verdict,
               "results": [{**_summary(rep), "report": rep.to_dict(per_step=args.per_step)}
                           for rep in reports], "refused": refused}
        print(json.dumps(doc, default=str))
    else:
        print(_footer(reports, refused, per_step=args.per_step))
    return 1 if failed else 0


def _header(settings: dict, width: int) -> str:
    sched = settings["schedule"] or "constant lr"
    if settings["same_schedule"]:
        sched += " (same schedule on both sides)"
    oracle = f", both against the {settings['oracle']} oracle" if settings["oracle"] else ""
    return (f"hand vs optax{oracle}: {settings['steps']} steps, {settings['mode']} mode, "
            f"{settings['dtype']}, {sched}; deviation = max |hand - optax| / leaf scale\n"
            f"{'id':{width}} {'updates':>9} {'params':>9}  {'first divergence or departure':40} verdict")


def _line(rep: Any, width: int) -> str:
    s = _summary(rep)
    verdict = s["verdict"] + (" (documented)" if s["documented"] else "")
    first = s["first"].split(" [documented")[0].removeprefix(s["verdict"] + ": ")
    line = f"{s['id']:{width}} {s['updates']:9.2e} {s['params']:9.2e}  {first:40} {verdict}"
    if rep.schedule is not None and not rep.schedule.agree:
        line += (f"\n{'':{width}} schedule hand vs optax differs: deviation "
                 f"{rep.schedule.max_scaled('schedule'):.2e}; " + " ".join(rep.schedule.notes))
    return line


def _footer(reports: list, refused: list, per_step: bool) -> str:
    n_agree = sum(rep.agree for rep in reports)
    documented = [rep for rep in reports if rep.documented]
    n_fail = len(reports) - n_agree - len(documented)
    lines = [f"{n_agree} agree, {len(documented)} documented exceptions, {n_fail} fail"
             + (f", {len(refused)} refused (real params only)" if refused else "")]
    lines += [f"  documented: {rep.label}: {rep.summary().split(' [documented')[0]} ({rep.known})"
              for rep in documented]
    if per_step or len(reports) == 1:
        lines.extend(["", *(rep.table(per_step=per_step) + "\n" for rep in reports)])
    return "\n".join(lines).rstrip()
