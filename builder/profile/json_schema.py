"""The profile's JSON Schema, for editors (yaml-language-server) and other tools: it refuses what
`dlenv validate` refuses key by key.

pydantic writes most of it from `schema.Profile`; what the validators check in code (a package
requirement, apt names, env values, URLs, which keys go with which accelerator or framework)
is added here as JSON Schema keywords, and the bounds pydantic leaves in its own spelling
(`gt`, `le`) are translated. What only the resolver can say (an impossible combination) stays
with `dlenv validate`.
"""

from __future__ import annotations

from typing import Any

from builder.profile.schema import (
    _APT_RE,
    _ENV_KEY_RE,
    _ENV_VALUE_RE,
    _IMAGE_RE,
    _URL_RE,
    VERSION_RE,
    Profile,
)

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:===|~=|==|!=|<=|>=|<|>) *[A-Za-z0-9._*!-]+"
# A package as `packages:` takes it: a name, optional extras, optional version specifiers; no
# markers, no URLs (schema._parse_requirement).
REQUIREMENT_RE = rf"^ *{_NAME} *(?:\[ *(?:{_NAME}(?: *, *{_NAME})*)? *\])? *(?:{_SPEC}(?: *, *{_SPEC})*)? *$"
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_STRING = {"type": "string"}


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a profile."""
    schema: dict[str, Any] = _translated(Profile.model_json_schema())
    props = schema["properties"]
    props["packages"]["items"]["pattern"] = REQUIREMENT_RE
    props["apt"]["items"]["pattern"] = _APT_RE.pattern
    props["env"]["propertyNames"] = {"pattern": _ENV_KEY_RE.pattern}
    props["env"]["additionalProperties"] = {**_STRING, "maxLength": 4096, "pattern": _ENV_VALUE_RE.pattern}
    props["base_image"].update(
        {"pattern": _IMAGE_RE.pattern, "maxLength": 255, "not": {**_STRING, "pattern": r"\.\."}}
    )
    frameworks = props["frameworks"]
    frameworks["additionalProperties"]["anyOf"][0]["pattern"] = VERSION_RE
    frameworks["properties"] = _framework_options(frameworks["additionalProperties"])
    pip = schema["$defs"]["PipSettings"]["properties"]
    pip["index_url"]["pattern"] = _URL_RE.pattern
    pip["extra_index_urls"]["items"]["pattern"] = _URL_RE.pattern
    pip["find_links"]["items"]["anyOf"] = [{"pattern": _URL_RE.pattern}, {"pattern": r"^[A-Za-z0-9._/~-]+$"}]
    schema["allOf"] = _accelerator_keys()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dlenv profile"
    schema["description"] = (
        "A dlenv profile (dlenv's README, 'Using it'). `dlenv validate PROFILE` also checks that "
        "the combination exists."
    )
    return schema


def _translated(node: Any) -> Any:
    """pydantic's own bound names (left where a validator wraps the type) as JSON Schema's."""
    if isinstance(node, dict):
        return {_BOUNDS.get(k, k): _translated(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_translated(v) for v in node]
    return node


def _framework_options(value: dict[str, Any]) -> dict[str, Any]:
    """Each framework's `value` schema, with a Keras backend for keras only and companions for
    pytorch only (schema.Profile's rule)."""
    backend = {"type": "object", "required": ["backend"], "properties": {"backend": _STRING}}
    companions = {"type": "object", "required": ["companions"], "properties": {"companions": {"minItems": 1}}}
    options = {"keras": [companions], "pytorch": [backend]}
    return {
        name: {**value, "not": {"anyOf": options.get(name, [backend, companions])}}
        for name in ("pytorch", "tensorflow", "keras", "jax", "mxnet")
    }


def _accelerator_keys() -> list[dict[str, Any]]:
    """cuda, nvcc and gpus need accelerator cuda; rocm needs rocm (schema.Profile's rule)."""
    when = {
        "cuda": {"cuda": _STRING},
        "nvcc": {"nvcc": {"const": True}},
        "gpus": {"gpus": {"minItems": 1}},
        "rocm": {"rocm": _STRING},
    }
    return [
        {
            "if": {"required": [key], "properties": condition},
            "then": {"properties": {"accelerator": {"const": "rocm" if key == "rocm" else "cuda"}}},
        }
        for key, condition in when.items()
    ]
