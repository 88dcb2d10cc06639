"""The only place boto3 sessions and clients are made: credentials, assume-role, retries, dry-run."""

from __future__ import annotations

from irkit.aws.guard import is_read_only
from irkit.aws.session import Aws, aws_call

__all__ = ["Aws", "aws_call", "is_read_only"]
