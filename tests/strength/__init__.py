"""Tests that kill mutants: behaviour where a silent regression would be a breach (issue 17)."""
