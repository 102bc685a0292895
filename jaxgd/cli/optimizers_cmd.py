"""``jaxgd optimizers [NAME]``: the update rules, or one rule's hyperparameters.

Examples::

    jaxgd optimizers                 every rule --optimizer takes, with a one-line description
    jaxgd optimizers adam            its hyperparameters and defaults, optax twin, table rows, source
    jaxgd optimizers mypkg.rules:my_sgd   your own factory's signature and docstring
"""

from __future__ import annotations

import argparse

from jaxgd.core.names import USER_RULE_FORM


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "optimizers", help="list the update rules, or show one rule's hyperparameters",
        description=__doc__.split("\n\n", 1)[0],
        epilog=__doc__.split("\n\n", 1)[1].replace("Examples::", "examples:"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", metavar="NAME",
                   help=f"a rule (e.g. adam), a table row id (e.g. sgd-nesterov) or {USER_RULE_FORM}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jaxgd.reference.catalog import describe, format_listing, format_rule, listing

    print(format_rule(describe(args.name)) if args.name else format_listing(listing()))
    return 0
