"""The revert stage: undo what the agent's stolen credentials changed.

Three paths, one reviewed plan, applied exactly as approved (:mod:`irkit.revert.planner`,
:mod:`irkit.revert.runner`): the agent's commits reverted on ``irkit/revert-<case>`` (git), the
terraform plan of that branch applied (drift on terraform-managed resources is restored by it), and
one compensating API call sequence per change outside terraform, from the registered inverse of its
CloudTrail event (:mod:`irkit.revert.inverses`).
"""
