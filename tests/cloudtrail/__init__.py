"""Tests of irkit.cloudtrail: writer, digest chain, collect, Athena, reader, and their commands."""

from __future__ import annotations
