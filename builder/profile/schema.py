"""The profile schema: what a user may ask for, strictly validated (unknown keys are errors)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from builder import defaults

FrameworkName = Literal["pytorch", "tensorflow", "keras", "jax", "mxnet"]

NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
MINOR_RE = r"^\d+\.\d+$"
GPU_RE = r"^([a-z0-9][a-z0-9-]{0,40}|\d{1,2}\.\d)$"
# A release as PyPI spells it: "2.8" (newest 2.8.x), "2.8.0", "0.9.0.1", "2.15.0.post1".
VERSION_RE = r"^\d+(\.\d+){0,3}(\.post\d+)?$"
# Keras 3 backends as Keras spells them (KERAS_BACKEND); "pytorch" is accepted for "torch".
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
_BACKEND_ALIASES = {"pytorch": "torch"}
# keras/src/backend/__init__.py also has these two; neither implements training (no autodiff).
_INFERENCE_ONLY_BACKENDS = ("numpy", "openvino")
# A package name with optional extras and version specifiers; no markers, no URLs, and so
# nothing a shell would interpret once the name is on a RUN line.
_REQUIREMENT_CHARS = re.compile(r"^[A-Za-z0-9._\-\[\],<>=!~* ]+$")
_APT_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$")
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_VALUE_RE = re.compile(r"^[A-Za-z0-9 _./:,=@+%~*{}-]*$")
_IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")
_URL_RE = re.compile(r"^https?://[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=%-]+$")


def is_image_ref(value: str) -> bool:
    """An image reference such as 'registry:5000/name:tag' or 'name@sha256:…' (no shell)."""
    return bool(_IMAGE_RE.fullmatch(value)) and ".." not in value and len(value) <= 255


def _parse_requirement(text: str) -> str:
    if not _REQUIREMENT_CHARS.fullmatch(text):
        bad = sorted({c for c in text if not _REQUIREMENT_CHARS.fullmatch(c)})
        raise ValueError(
            f"{text!r} contains {''.join(bad)!r}; a package is a name with optional extras and "
            "version specifiers, e.g. 'pandas>=2' (markers and URLs are not supported)"
        )
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"{text!r} is not a valid requirement: {exc}") from None
    return text.strip()


def _check_apt(value: str) -> str:
    if not _APT_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Debian package name (lowercase letters, digits, '+', '-', "
            "'.', optionally '=version')"
        )
    return value


Package = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_parse_requirement)]
AptPackage = Annotated[StrictStr, Field(min_length=1, max_length=200), AfterValidator(_check_apt)]


PlatformName = Literal["linux/amd64", "linux/arm64"]
DEFAULT_PLATFORM: PlatformName = "linux/amd64"
# What people also write for these two (docker's variants, uname -m, Go's GOARCH).
_PLATFORM_ALIASES = {
    "amd64": "linux/amd64",
    "x86_64": "linux/amd64",
    "linux/x86_64": "linux/amd64",
    "arm64": "linux/arm64",
    "aarch64": "linux/arm64",
    "linux/aarch64": "linux/arm64",
    "linux/arm64/v8": "linux/arm64",
}


def normalise_platform(value: str) -> str:
    """linux/amd64 or linux/arm64 for the spellings people use; anything else unchanged."""
    return _PLATFORM_ALIASES.get(value.strip().lower(), value.strip().lower())


def _platforms(value: Any) -> Any:
    """One platform or a list, each spelled as people do; duplicates are an error."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(i, str) for i in items):
        return value  # pydantic reports the type
    out = tuple(normalise_platform(i) for i in items)
    if len(set(out)) != len(out):
        raise ValueError(f"lists a platform twice: {', '.join(out)}")
    return out


_PLATFORM_NAMES = ["linux/amd64", "linux/arm64", *_PLATFORM_ALIASES]
_PLATFORM_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "enum": _PLATFORM_NAMES},
        {
            "type": "array",
            "items": {"type": "string", "enum": _PLATFORM_NAMES},
            "minItems": 1,
            "uniqueItems": True,
        },
    ]
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameworkSpec(_Strict):
    """One framework with options; a bare string is shorthand for `{version: ...}`."""

    version: Annotated[StrictStr, Field(pattern=VERSION_RE)] | None = None
    backend: StrictStr | None = Field(
        default=None,
        description="Keras only: tensorflow, jax or torch (pytorch also accepted).",
        json_schema_extra={"enum": [*KERAS_BACKENDS, *_BACKEND_ALIASES, None]},
    )
    companions: tuple[Literal["torchvision", "torchaudio"], ...] = Field(
        default=(), description="PyTorch only: companion packages pinned to the matching release."
    )

    @field_validator("backend")
    @classmethod
    def _keras_backend(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _BACKEND_ALIASES.get(value, value)
        if value in _INFERENCE_ONLY_BACKENDS:
            raise ValueError(
                f"Keras' {value!r} backend is real but inference-only: it has no gradients, so "
                "model.fit() raises, and dlenv proves an image by training in it. Use "
                f"{', '.join(KERAS_BACKENDS[:-1])} or {KERAS_BACKENDS[-1]} (run {value} "
                "inference in that image by setting KERAS_BACKEND yourself)"
            )
        if value not in KERAS_BACKENDS:
            raise ValueError(
                f"{value!r} is not a Keras backend; use {', '.join(KERAS_BACKENDS[:-1])} "
                f"or {KERAS_BACKENDS[-1]}"
            )
        return value


class PipSettings(_Strict):
    """Where pip finds packages during the build (corporate mirrors, air-gapped wheelhouses)."""

    index_url: StrictStr | None = None
    extra_index_urls: tuple[StrictStr, ...] = ()
    find_links: tuple[StrictStr, ...] = Field(
        default=(), description="Wheelhouse directories (relative to the profile) or URLs."
    )
    vendor_indexes: StrictBool = Field(
        default=True,
        description="Add framework vendor indexes (download.pytorch.org). Turn off when a mirror or "
        "wheelhouse provides those wheels.",
    )

    @field_validator("index_url")
    @classmethod
    def _index_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("extra_index_urls")
    @classmethod
    def _extra_urls(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _URL_RE.fullmatch(value):
                raise ValueError(f"{value!r} is not an http(s) URL")
        return values

    @field_validator("find_links")
    @classmethod
    def _find_links(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not (_URL_RE.fullmatch(value) or re.fullmatch(r"[A-Za-z0-9._/~-]+", value)):
                raise ValueError(f"{value!r} is neither an http(s) URL nor a plain directory path")
        return values


class UserSettings(_Strict):
    """The non-root user the image runs as."""

    name: Annotated[StrictStr, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = "dlenv"
    uid: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] = 1000
    gid: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] = 1000


def _number(value: object) -> object:
    """A YAML number, not a string or a boolean (which pydantic's lax float would take)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return float(value)


Floor = Annotated[float, BeforeValidator(_number)]


class SmokeSettings(_Strict):
    """What `dlenv smoke` checks and how long it may take. `perf` times a matrix product and a
    device copy; the floors make it fail below them (exit 5)."""

    models: tuple[Literal["lstm", "lenet", "perf"], ...] = Field(
        default=("lstm", "lenet", "perf"), min_length=1
    )
    steps: Annotated[StrictInt, Field(ge=10, le=100_000)] = 200
    timeout: Annotated[StrictInt, Field(ge=10, le=86_400)] = defaults.SMOKE_TIMEOUT
    min_tflops: Annotated[Floor, Field(gt=0, le=1e6)] | None = Field(
        default=None, description="perf: the matrix product (bf16 on a GPU, fp32 on the CPU) in TFLOP/s."
    )
    min_copy_gbps: Annotated[Floor, Field(gt=0, le=1e6)] | None = Field(
        default=None, description="perf: the device memory copy in GB/s (bytes read + written)."
    )
    min_peak_fraction: Annotated[Floor, Field(gt=0, le=1)] | None = Field(
        default=None,
        description="perf: both, as a fraction of the GPU's published peak (matrix.yaml gpu_peaks).",
    )


class Profile(_Strict):
    """A dlenv profile (docs/design.md, Profile)."""

    name: Annotated[StrictStr, Field(pattern=NAME_RE)]
    description: StrictStr | None = Field(default=None, max_length=500)
    accelerator: Literal["cuda", "rocm", "cpu"]
    cuda: Annotated[StrictStr, Field(pattern=MINOR_RE)] | None = None
    rocm: Annotated[StrictStr, Field(pattern=MINOR_RE)] | None = None
    nvcc: StrictBool = Field(default=False, description="CUDA only: use the devel base (nvcc).")
    os: Annotated[StrictStr, Field(pattern=r"^[a-z0-9.]+$")] | None = None
    python: Annotated[StrictStr, Field(pattern=r"^3\.\d+$")] | None = None
    base_image: StrictStr | None = None
    frameworks: dict[FrameworkName, StrictStr | FrameworkSpec | None] = Field(
        min_length=1,
        description='Framework -> version ("2.8", "2.8.0"), null for the newest, '
        "or {version, backend, companions}.",
    )
    packages: tuple[Package, ...] = ()
    apt: tuple[AptPackage, ...] = ()
    env: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    pip: PipSettings = PipSettings()
    user: UserSettings = UserSettings()
    smoke: SmokeSettings = SmokeSettings()
    gpus: tuple[Annotated[StrictStr, Field(pattern=GPU_RE)], ...] = Field(
        default=(),
        description="CUDA only: the GPUs the image must run on, by id (rtx-5090, h100, gb10; "
        '`dlenv matrix --gpu ID`) or compute capability ("12.0"); only builds with kernels for '
        "all of them are chosen.",
    )

    platform: Annotated[
        tuple[PlatformName, ...], BeforeValidator(_platforms), WithJsonSchema(_PLATFORM_SCHEMA)
    ] = Field(
        default=(DEFAULT_PLATFORM,),
        description="The image's platform, or a list to build one image per platform "
        "(linux/amd64, linux/arm64: GH200/GB200, DGX Spark, Graviton); default linux/amd64.",
    )

    @field_validator("frameworks", mode="before")
    @classmethod
    def _expand_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, spec in value.items():
                if isinstance(spec, float | int) and not isinstance(spec, bool):
                    raise ValueError(
                        f'{key}: version {spec!r} must be a quoted string, e.g. "{spec}" '
                        "(YAML reads 2.10 as the number 2.1)"
                    )
                out[key] = spec
            return out
        return value

    @field_validator("frameworks")
    @classmethod
    def _normalise_frameworks(
        cls, value: dict[str, str | FrameworkSpec | None]
    ) -> dict[str, str | FrameworkSpec | None]:
        out: dict[str, str | FrameworkSpec | None] = {}
        for key, spec in value.items():
            if spec is None:
                spec = FrameworkSpec()
            if isinstance(spec, str):
                if not re.fullmatch(VERSION_RE, spec):
                    raise ValueError(
                        f'{key}: {spec!r} is not a release such as "2.8", "2.8.0" '
                        'or "2.15.0.post1" (pre-releases are not supported)'
                    )
                spec = FrameworkSpec(version=spec)
            if spec.backend is not None and key != "keras":
                raise ValueError(f"{key}: only keras takes a backend")
            if spec.companions and key != "pytorch":
                raise ValueError(f"{key}: only pytorch takes companions")
            out[key] = spec
        return out

    @field_validator("cuda", "rocm", "python", mode="before")
    @classmethod
    def _quoted_versions(cls, value: Any) -> Any:
        if isinstance(value, float | int) and not isinstance(value, bool):
            raise ValueError(f'{value!r} must be a quoted string, e.g. "{value}" (YAML reads 12.10 as 12.1)')
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, values: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            if not _ENV_KEY_RE.fullmatch(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if len(value) > 4096 or not _ENV_VALUE_RE.fullmatch(value):
                bad = sorted({c for c in value if not _ENV_VALUE_RE.fullmatch(c)})
                raise ValueError(
                    f"{key}: the value contains {''.join(bad)!r}; values may hold letters, digits, "
                    "spaces and _ . / : , = @ + % ~ * { } - only (no quotes, $, backslashes, "
                    "shell operators or newlines)"
                )
        return values

    @field_validator("base_image")
    @classmethod
    def _base_image(cls, value: str | None) -> str | None:
        if value is not None and not is_image_ref(value):
            raise ValueError(f"{value!r} is not an image reference such as 'registry/name:tag'")
        return value

    @model_validator(mode="after")
    def _toolkit_matches_accelerator(self) -> Profile:
        if self.cuda is not None and self.accelerator != "cuda":
            raise ValueError(f"'cuda' is set but accelerator is {self.accelerator}")
        if self.rocm is not None and self.accelerator != "rocm":
            raise ValueError(f"'rocm' is set but accelerator is {self.accelerator}")
        if self.nvcc and self.accelerator != "cuda":
            raise ValueError(f"'nvcc' needs accelerator cuda, not {self.accelerator}")
        if self.gpus and self.accelerator != "cuda":
            raise ValueError(f"'gpus' names NVIDIA GPUs: it needs accelerator cuda, not {self.accelerator}")
        return self

    def framework_specs(self) -> dict[str, FrameworkSpec]:
        """Frameworks with shorthand expanded (the validator guarantees FrameworkSpec values)."""
        return {
            k: v if isinstance(v, FrameworkSpec) else FrameworkSpec(version=v)
            for k, v in self.frameworks.items()
        }  # None never survives the validator


# The JSON Schema of a profile (what `dlenv validate --schema` prints): profile/json_schema.py.
