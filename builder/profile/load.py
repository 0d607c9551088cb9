"""Reading a profile: strict YAML (no duplicate keys), then the schema, errors in one paragraph."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from builder import paths
from builder.errors import ProfileError
from builder.paths import builtin_profile_names as builtin_profile_names  # re-exported
from builder.paths import profile_source as profile_source  # re-exported
from builder.profile.schema import Profile


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One readable paragraph naming each bad field, pydantic noise removed."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "str")))
        loc = re.sub(r"\.FrameworkSpec$", "", loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see `dlenv validate --help` for the schema)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    # pydantic reports each union branch; keep one line per distinct message.
    unique = list(dict.fromkeys(lines))
    return f"{source} is not a valid profile:\n" + "\n".join(unique)


def parse_profile(text: str, source: str = "profile") -> Profile:
    """Parse YAML text into a validated Profile, raising ProfileError with a clear message."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{source} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ProfileError(
            f"{source} must be a YAML mapping with keys such as name, accelerator and frameworks; "
            f"found {type(data).__name__}"
        )
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(format_validation_error(source, exc)) from None


def load_profile(ref: str) -> tuple[Profile, Path]:
    """Load PROFILE by built-in name or path; returns the profile and the file it came from."""
    path = profile_source(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from None
    return parse_profile(text, str(path) if path.parent != paths.builtin_profiles_dir() else ref), path
