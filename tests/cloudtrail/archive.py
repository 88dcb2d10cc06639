"""A small signed archive for tests: two regions, four sealed hours, one pending file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, ObjectSink, synthetic_record

ACCOUNT = "111111111111"
ORG = "o-abc123def4"
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
SEALED_UNTIL = T0 + timedelta(hours=4)


def trail_bucket(boto: Any, bucket: str, *, versioned: bool = False) -> Any:
    """An S3 client (of the moto server) with the trail's bucket made, versioned when asked (the
    log-archive account keeps every version: what recovery and the key checks read)."""
    client = boto("s3")
    client.create_bucket(Bucket=bucket)
    if versioned:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client


def build_archive(
    sink: ObjectSink,
    *,
    layout: TrailLayout | None = None,
    regions: Sequence[str] = ("us-east-1", "eu-west-1"),
    accounts: Sequence[str] = (ACCOUNT,),
    hours: int = 4,
    pending: bool = True,
    writer_kwargs: dict[str, Any] | None = None,
) -> ArchiveWriter:
    """Records every 10 minutes for ``hours`` hours, digests sealed to the end; with ``pending`` one
    more file delivered after the newest digest."""
    layout = layout or TrailLayout(sink.bucket, "", ORG)
    writer = ArchiveWriter(layout, sink, **(writer_kwargs or {}))
    seq = 0
    for account in accounts:
        for region in regions:
            records = []
            for minute in range(0, hours * 60, 10):
                seq += 1
                records.append(
                    synthetic_record(
                        T0 + timedelta(minutes=minute, seconds=7), account=account, region=region, seq=seq
                    )
                )
            writer.add_records(account, region, records)
    writer.seal_digests(until=T0 + timedelta(hours=hours))
    if pending:
        for account in accounts:
            for region in regions:
                seq += 1
                writer.add_records(
                    account,
                    region,
                    [
                        synthetic_record(
                            T0 + timedelta(hours=hours, minutes=2), account=account, region=region, seq=seq
                        )
                    ],
                )
    return writer
