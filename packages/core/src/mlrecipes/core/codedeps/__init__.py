"""Code dependencies discovered while a step runs (issue #21; DESIGN.md "On disk").

The step runner records what a step's process imported, opened, listed and
searched inside the workspace's checkouts (:mod:`mlrecipes.core.executors.step_runner`);
after the step, :func:`hash_observed` turns that into a :class:`CodeRecord`
(git blob SHAs of the files, digests of the listings, the names that could
shadow each import). The record is kept in the step's store entry. When a
repo's tree has changed since, :func:`verify` says whether the record still
vouches for the checkouts as they are now: every recorded file has the same
blob SHA and nothing new could shadow an import or change a listing.
Anything the record cannot vouch for (a process started, native code loaded
from a checkout, a damaged or missing record) leaves the step to the tree rule.
"""

from mlrecipes.core.codedeps.record import CodeRecord, hash_observed
from mlrecipes.core.codedeps.verify import Checkouts, verify

__all__ = ["Checkouts", "CodeRecord", "hash_observed", "verify"]
