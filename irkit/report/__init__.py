"""The incident report: timeline assembly, markdown and JSON renderers."""

from __future__ import annotations
