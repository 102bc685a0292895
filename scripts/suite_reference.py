"""Write docs/suite.md: the suite's reference results, from one command.

    python scripts/suite_reference.py                       the default suite (sgd, momentum, adam)
    python scripts/suite_reference.py --trials 8 --seeds 3  any `jaxgd suite` flags pass through

Runs `jaxgd suite` with the given flags into a temporary folder and copies its suite.md
(the command, the machine, the wall time, every table) to docs/suite.md, naming this
script's own command line as the one that produced it.
"""

from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path

from jaxgd.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "suite.md"


def reference(argv: list[str], target: Path = DOCS) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "suite"
        code = main(["suite", *argv, "--out", str(out)])
        if code:
            return code
        page = (out / "suite.md").read_text()
    command = shlex.join(["python", "scripts/suite_reference.py", *argv])
    page = re.sub(r"```bash\n.*?\n```", lambda _: f"```bash\n{command}\n```", page, count=1, flags=re.S)
    target.write_text(page)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(reference(sys.argv[1:]))
