"""The data every stage shares: the case folder, its journal and lock, and the plan/action/result
types a step works with. Imports no stage, no step and no engine (docs/architecture.md)."""
