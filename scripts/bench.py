"""The side-by-side benchmark; the same as `jaxgd bench` (see `--help`).

    python scripts/bench.py                 # all workloads, 5 repeats, writes bench_out/
    python scripts/bench.py --quick         # a smoke run
"""

import sys

from jaxgd.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
