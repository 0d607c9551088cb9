"""Where things live inside a dlenv image and its build context, each path defined once.

Templates receive this module as `paths`; the pipeline, verify and dev containers use the same
names, so a path changes in one place.
"""

from __future__ import annotations

# Inside the image.
VENV = "/opt/venv"
WORKSPACE = "/workspace"
SMOKE_DIR = "/opt/dlenv/smoke"
INPUTS_DIR = "/opt/dlenv-build"  # build inputs, only ever in a build stage or a single RUN
LOCK_DIR = "/opt/dlenv-lock"  # a locked build's requirement files, likewise
EXTRAS_DIR = "/opt/dlenv-extras"  # staged builds: the files the extra packages added
# Owner group of the virtual environment: every user in it can pip install into the venv, and
# no layer below the user's own depends on a UID (a dev image for another UID reuses them all).
VENV_GROUP = "dlenv-venv"

# Inside the build context (and the checked-in dockerfiles/ folder, compose's build context).
CONTEXT_BUILD = "dlenv/build"
CONTEXT_LOCK = "dlenv/lock"
CONTEXT_SMOKE = "dlenv/smoke"
