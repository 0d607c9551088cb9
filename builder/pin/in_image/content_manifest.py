"""Print a manifest of what an image installed, for `dlenv verify` (runs inside the image).

One line per entry of the virtual environment: path, type, permission bits, size and sha256
(file times left out), then the Python distributions and the Debian packages. Standard
library only; the host turns the output into a content digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from importlib import metadata

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/opt/venv"


def entries(root: str) -> list[list[object]]:
    out: list[list[object]] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                out.append([rel, "l", mode, os.readlink(path)])
            elif stat.S_ISDIR(info.st_mode):
                out.append([rel, "d", mode])
            else:
                digest = hashlib.sha256()
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
                out.append([rel, "f", mode, info.st_size, digest.hexdigest()])
    return out


def debian_packages() -> list[str]:
    try:
        text = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        return []
    return sorted(line for line in text.splitlines() if line)


def main() -> None:
    distributions = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()})
    print(
        json.dumps(
            {"root": ROOT, "entries": entries(ROOT), "python": distributions, "debian": debian_packages()},
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
