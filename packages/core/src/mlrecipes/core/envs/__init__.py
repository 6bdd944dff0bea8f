"""Isolated uv environments, one per repo (shared where their identity is equal).

Works on a project folder (a checkout or its subdir); knows nothing of manifests
or git. See :mod:`mlrecipes.core.envs.build` for the on-disk contract.
"""

from mlrecipes.core.envs._gitrefs import moving_refs
from mlrecipes.core.envs._layout import MARKER as ENV_MARKER
from mlrecipes.core.envs._uses import used_names
from mlrecipes.core.envs._uv import find_uv
from mlrecipes.core.envs.build import Environment, EnvStatus, ensure_environment, environment_status
from mlrecipes.core.envs.key import environment_key
from mlrecipes.core.envs.parallel import BuildFailure, ensure_environments
from mlrecipes.core.envs.spec import EnvSpec, InstallMode

__all__ = [
    "ENV_MARKER",
    "BuildFailure",
    "EnvSpec",
    "EnvStatus",
    "Environment",
    "InstallMode",
    "ensure_environment",
    "ensure_environments",
    "environment_key",
    "environment_status",
    "find_uv",
    "moving_refs",
    "used_names",
]
