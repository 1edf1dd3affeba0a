"""The planner moved to the decision core; this name stays for scripts that import it."""

from __future__ import annotations

from followupd.policy.plan import Decision, Schedule, StepWindow, plan

__all__ = ["Decision", "Schedule", "StepWindow", "plan"]
