"""Property tests: the profile parser and the quoting of user values (Hypothesis)."""

from __future__ import annotations

import shlex

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.errors import ProfileError
from builder.profile.load import parse_profile
from builder.profile.schema import Profile
from builder.render.dockerfile import render_dockerfile
from builder.resolve.decide import resolve

BASE = {"name": "t", "accelerator": "cpu", "frameworks": {"pytorch": "2.13"}}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_is_a_profile_or_a_profile_error(text: str) -> None:
    try:
        assert isinstance(parse_profile(text), Profile)
    except ProfileError as exc:
        assert exc.message and exc.exit_code == 2


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "accelerator",
                "frameworks",
                "packages",
                "apt",
                "env",
                "cuda",
                "os",
                "python",
                "pip",
                "user",
                "smoke",
                "base_image",
                "extra",
            ]
        ),
        yaml_values,
        max_size=8,
    )
)
def test_any_mapping_is_a_profile_or_a_profile_error(data: dict) -> None:  # type: ignore[type-arg]
    try:
        parse_profile(yaml.safe_dump(data))
    except ProfileError as exc:
        assert "is not a valid profile" in exc.message or "must be a YAML mapping" in exc.message


_shellish = st.text(alphabet=st.characters(codec="ascii", exclude_characters="\x00"), max_size=40)


@SETTINGS
@given(_shellish)
def test_an_accepted_package_reaches_pip_as_exactly_one_argument(package: str) -> None:
    try:
        profile = parse_profile(yaml.safe_dump({**BASE, "packages": [package]}))
    except ProfileError:
        return
    lines = render_dockerfile(resolve(profile)).splitlines()
    start = next(i for i, line in enumerate(lines) if "-c /opt/dlenv-build/constraints.txt \\" in line)
    end = next(i for i, line in enumerate(lines) if "mkdir -p /opt/dlenv-extras" in line)
    words = shlex.split(" ".join(line.strip().rstrip("\\") for line in lines[start + 1 : end]))
    assert words == [package.strip()]


@SETTINGS
@given(_shellish)
def test_an_accepted_env_value_is_literal(value: str) -> None:
    try:
        profile = parse_profile(yaml.safe_dump({**BASE, "env": {"MY_VAR": value}}))
    except ProfileError:
        return
    assert not set(value) & set('$`"\\\n\r')  # nothing a shell or Dockerfile would expand
    text = render_dockerfile(resolve(profile))
    assert f'ENV MY_VAR="{value}"' in text.splitlines()
