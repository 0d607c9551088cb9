"""Compare what a locked build installed with the lock; fail the build on any difference.

Runs inside the image during `dlenv build --locked` (standard library only, any Python 3):
    python check_installed.py frameworks.txt [extras.txt]
Each file holds lines `name==version --hash=sha256:...`. The seed packages a fresh virtual
environment brings (pip, setuptools, wheel) count only when the lock lists them.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

SEED = {"pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(paths: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                requirement = line.split("--hash")[0].strip()
                if requirement and not requirement.startswith("#"):
                    name, _, version = requirement.partition("==")
                    out[canonical(name)] = version.strip()
    return out


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def main(paths: list[str]) -> int:
    want, have = locked(paths), installed()
    missing = [f"{n}=={v}" for n, v in sorted(want.items()) if n not in have]
    different = [
        f"{n} (lock {v}, installed {have[n]})" for n, v in sorted(want.items()) if n in have and have[n] != v
    ]
    unexpected = [f"{n}=={v}" for n, v in sorted(have.items()) if n not in want and n not in SEED]
    if not (missing or different or unexpected):
        print(f"dlenv: installed set matches the lock ({len(want)} packages)")
        return 0
    print("dlenv: the installed packages differ from the lock:", file=sys.stderr)
    for label, items in (("missing", missing), ("different", different), ("not in the lock", unexpected)):
        if items:
            print(f"  {label}: {', '.join(items)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
