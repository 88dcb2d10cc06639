"""Detection: the Event model, attribution, rules, sequences and the agent's baseline."""

from __future__ import annotations
