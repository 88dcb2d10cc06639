"""Child process for the interrupt tests: `irkit` with one extra step that signals its own process.

``python -m tests.trust.interrupt_child SIGNAL irkit-args...``: the step ``test_signal_self`` sends
SIGNAL (INT or TERM) to this process the first time it runs and then waits for it to land; on a
resume (the marker file exists) it just succeeds.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from irkit.cli import main
from irkit.core.context import RunContext
from irkit.core.plan import Plan, StepResult
from irkit.steps.base import Step, register


@register
class SignalSelf(Step):
    name = "test_signal_self"
    summary = "sends a signal to its own process once"

    def plan(self, ctx: RunContext) -> Plan:
        return Plan(self.step_id)

    def apply(self, ctx: RunContext, plan: Plan) -> StepResult:
        marker = ctx.case.root / "signalled"
        if not marker.exists():
            marker.write_text("1")
            os.kill(os.getpid(), getattr(signal, f"SIG{os.environ['IRKIT_TEST_SIGNAL']}"))
            for _ in range(1000):  # the handler runs at the next bytecode: this loop never ends on its own
                time.sleep(0.01)
            raise AssertionError("the signal never arrived")
        return StepResult("the signal was sent on the first run")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
