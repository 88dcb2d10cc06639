"""The runbook engine: runbook model and validation, case folder, hash-chained journal, executor."""

from __future__ import annotations
