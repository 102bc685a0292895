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
import difflib
import importlib
import inspect
import json
import os
import sys
from typing import Any

from jaxgd.cli.common import add_flag, start_compile_cache
from jaxgd.core.deprecation import renamed_value
from jaxgd.core.errors import ConfigError, UnknownNameError, check_choice, check_positive_int
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
    add_flag(p, "--steps", type=int, default=200, help="updates per check")
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
             help="stream: shared random gradients; loss: each side on its own loss gradients")
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


def load_factory(spec: str) -> Any:
    """The callable named by ``MODULE:FACTORY`` (the working directory is importable)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ConfigError(f"--hand={spec!r}: expected MODULE:FACTORY, e.g. --hand mypkg.rules:my_sgd.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ConfigError(f"--hand={spec!r}: cannot import {module_name!r} ({err}). Run from the "
                          "folder above it or add that folder to PYTHONPATH.") from err
    factory = getattr(module, attr, None)
    if factory is None:
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        close = difflib.get_close_matches(attr, names, n=1, cutoff=0.5)
        raise UnknownNameError(f"--hand={spec!r}: {module_name} has no {attr!r}."
                               + (f" Did you mean {close[0]!r}?" if close else "")
                               + f" Callables there: {', '.join(names)}.")
    if not callable(factory):
        raise ConfigError(f"--hand={spec!r}: {attr} is a {type(factory).__name__}, not a factory.")
    return factory


def user_row(spec: str, reference: str | None) -> Any:
    """A table row pairing the user's factory with the reference twin (and its settings)."""
    import jaxgd.reference as ref

    if not reference:
        raise ConfigError(f"--hand={spec!r} needs --reference NAME, the optax twin to check it "
                          "against (a row id such as rmsprop, or a twin name).")
    factory = load_factory(spec)
    rows = [r for r in ref.OPTIMIZERS if r.id == reference]
    if rows:
        base = rows[0]
    else:
        twins = [n for m in (ref, *ref._FAMILIES) for n in dir(m)
                 if not n.startswith("_") and callable(getattr(m, n)) and n[0].islower()]
        if reference not in twins:
            check_choice("reference", reference, [r.id for r in ref.OPTIMIZERS] + twins)
        base = ref.Row(reference, factory, getattr(ref, reference), {})
    return base._replace(id=f"{spec} vs {reference}", hand=factory)


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
