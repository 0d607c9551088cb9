"""The whole space, swept: every accelerator x toolkit x OS x framework x release line.

Each request either resolves to a spec that agrees with it, or fails with the resolver's own
ResolveError (never another exception); and every nearest alternative an error offers really
resolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.version import Version

from builder.errors import ResolveError
from builder.facts.matrix import Accelerator, load_matrix
from builder.facts.registry import load_registry
from builder.profile.load import parse_profile
from builder.profile.schema import Profile
from builder.resolve.decide import resolve

M = load_matrix()
R = load_registry()
_SET = re.compile(r'^  - set (\S+) to "([^"]+)"')
_SEPARATE = re.compile(r"^  - build (\S+) in a separate image")


def _lines(name: str) -> list[str]:
    fw = M.frameworks[name]
    lines = {
        f"{r.version.major}.{r.version.minor}"
        for r in R.releases(fw.package)
        if r.version >= Version(fw.since)
    }
    return sorted(lines, key=Version)


def _requests() -> Iterator[tuple[Accelerator, str | None, str, str, str]]:
    for acc in ("cpu", "cuda", "rocm"):
        toolkits = [None] if acc == "cpu" else [t.version for t in M.toolkit_entries(acc)]
        for toolkit in toolkits:
            for os_entry in M.os:
                for name in M.frameworks:
                    for line in _lines(name):
                        yield acc, toolkit, os_entry.name, name, line


def _profile(acc: str, toolkit: str | None, os_name: str, frameworks: dict[str, str | None]) -> Profile:
    text = f"name: sweep\naccelerator: {acc}\nos: {os_name}\n"
    if toolkit:
        text += f'{acc}: "{toolkit}"\n'
    text += "frameworks:\n" + "".join(
        f"  {k}: " + (f'"{v}"' if v else "null") + "\n" for k, v in frameworks.items()
    )
    return parse_profile(text)


def _alternative(
    acc: str, toolkit: str | None, os_name: str, name: str, line: str, hint_line: str
) -> Profile | None:
    if match := _SET.match(hint_line):
        field, value = match.groups()
        if field == name:
            return _profile(acc, toolkit, os_name, {name: value})
        if field == acc:
            return _profile(acc, value, os_name, {name: line})
        if field == "os":
            text = f'name: sweep\naccelerator: {acc}\nos: {value}\nframeworks: {{{name}: "{line}"}}\n'
            return parse_profile(text + (f'{acc}: "{toolkit}"\n' if toolkit else ""))
    return None


def test_every_request_resolves_or_fails_with_a_reason_and_working_alternatives() -> None:
    count = refused = 0
    for acc, toolkit, os_name, name, line in _requests():
        count += 1
        try:
            spec = resolve(_profile(acc, toolkit, os_name, {name: line}))
        except ResolveError as exc:
            refused += 1
            assert exc.message.startswith(("profile 'sweep' asks for", "frameworks.")), exc.message
            for hint_line in (exc.hint or "").splitlines():
                alternative = _alternative(acc, toolkit, os_name, name, line, hint_line)
                if alternative is not None:
                    resolve(alternative)  # raises if the offered alternative does not resolve
            continue
        assert spec.accelerator == acc and spec.os == os_name
        assert spec.toolkit == toolkit
        assert spec.frameworks[0].version.startswith(line + ".")
    assert count > 1000 and 0 < refused < count
