"""`irkit drill`: rehearse the whole response on an embedded AWS simulator (moto server)."""

from __future__ import annotations
