"""Where dlenv's packaged files live: the one place that knows the layout.

In a source checkout `templates/` sits at the repository root and the smoke scripts in
`dockerfiles/dlenv/smoke/` (their one source: compose builds from `dockerfiles/`); an installed
wheel ships them as `builder/_templates` and `builder/_smoke` (see pyproject.toml). Everything
else is package data.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The Jinja2 templates: the packaged copy when installed, else the checkout's."""
    packaged = PACKAGE_DIR / "_templates"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "templates"


def matrix_file() -> Path:
    return PACKAGE_DIR / "facts" / "matrix.yaml"


def registry_file() -> Path:
    """Registry-derived compatibility data, written by `dlenv matrix refresh`."""
    return PACKAGE_DIR / "facts" / "registry.json"


def in_image_script(name: str) -> Path:
    """A script dlenv runs inside an image it built (installed-set check, content manifest)."""
    return PACKAGE_DIR / "pin" / "in_image" / name


def builtin_profiles_dir() -> Path:
    return PACKAGE_DIR / "profile" / "builtin"


def smoke_scripts_dir() -> Path:
    """The scripts baked into every image: the packaged copy when installed, else the checkout's."""
    packaged = PACKAGE_DIR / "_smoke"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "dockerfiles" / "dlenv" / "smoke"


def builtin_profile_names() -> list[str]:
    return sorted(p.stem for p in builtin_profiles_dir().glob("*.yaml"))


def profile_source(ref: str) -> Path:
    """Map PROFILE (a built-in name or a path to YAML) to a file, or raise ProfileError."""
    from builder.errors import ProfileError

    as_path = Path(ref)
    if as_path.suffix in {".yaml", ".yml"} or "/" in ref or as_path.exists():
        if not as_path.is_file():
            raise ProfileError(f"profile file {ref} does not exist")
        return as_path
    builtin = builtin_profiles_dir() / f"{ref}.yaml"
    if builtin.is_file():
        return builtin
    raise ProfileError(
        f"{ref!r} is neither a profile file nor a built-in profile; built-ins: "
        + ", ".join(builtin_profile_names())
    )
