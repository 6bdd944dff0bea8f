"""A step's identity: one value that both digests and explains itself (issue #23).

:class:`StepIdentity` holds the components of a step execution. Its
:attr:`~StepIdentity.fingerprint` hashes exactly the fields of
:data:`HASHED`; ``--dry-run`` explains a rerun by comparing exactly those
fields with a recorded execution (:func:`mlrecipes.core.plan.explain.explain_change`
has one explainer per hashed field), so a reason can never name something the
fingerprint did not use. The other components only label a hashed change
(which commit a tree is, which used repo or package moved an environment) or
form the key without code (:attr:`~StepIdentity.code_free_key`), under which the
store finds entries whose code record may stand in for the tree
(:mod:`mlrecipes.core.codedeps`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlrecipes.core.fingerprint import digest, step_fingerprint
from mlrecipes.core.plan.explain import HASHED, nearest_reasons

__all__ = ["HASHED", "StepIdentity"]


@dataclass(frozen=True)
class StepIdentity:
    """The components of one step execution (persisted as its ``latest.json``)."""

    components: Mapping[str, Any]

    @property
    def fingerprint(self) -> str:
        """The store key: :func:`step_fingerprint` of the :data:`HASHED` fields."""
        c = self.components
        return step_fingerprint(
            fn=c["fn"],
            code_tree=str(c["code"]).partition("@")[2],
            env_hash=c["env"],
            params={"params": c["params"], "outputs": c["outputs"]},
            inputs=c["inputs"],
        )

    @property
    def code_free_key(self) -> str:
        """The key without the checkouts' code: the hashed fields but the tree, with the
        environment's identity minus what it imports from the checkouts in place."""
        c = self.components
        return digest(
            {
                "kind": "step-without-code",
                "fn": c["fn"],
                "project": c["project"],
                "env": c["env_without_code"],
                "params": c["params"],
                "outputs": c["outputs"],
                "inputs": c["inputs"],
            }
        )

    def reasons(
        self,
        before: Sequence[Mapping[str, Any]],
        *,
        code_note: str | None = None,
        code_files: bool = False,
    ) -> tuple[str, ...]:
        """Why this identity reruns against the nearest of ``before`` (most recent first);
        ``code_note`` details a changed tree (see :func:`nearest_reasons`)."""
        return nearest_reasons(self.components, before, code_note=code_note, code_files=code_files)
