"""``iam_user_backdoor_sequence`` sees a created key used from a new address after its first 20 uses.

It kept the first 20 uses of each key only, so an attacker who drove the new key from the creator's own
network first (20 calls) and from their own afterwards was never seen.
"""

from __future__ import annotations

from typing import Any

import pytest

from irkit.detect.detector import DetectorContext
from irkit.detect.detectors._common import at, iam
from irkit.detect.detectors.iam_user_backdoor_sequence import MAX_KEY_USES, USES_PER_KEY, UserBackdoor
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, AGENT_IP, ATTACKER_IP, record, user_identity

USER = f"arn:aws:iam::{ACCOUNT}:user/svc-sync"
KEY = "AKIAQSVCSYNCKEY00001"


def _story(home_uses: int) -> list[dict[str, Any]]:
    created = [
        iam("CreateUser", 0, {"userName": "svc-sync"}, {"user": {"userName": "svc-sync", "arn": USER}}),
        iam("CreateAccessKey", 1, {"userName": "svc-sync"},
            {"accessKey": {"userName": "svc-sync", "accessKeyId": KEY}}),
    ]  # fmt: skip
    uses = [
        record("ListBuckets", "s3.amazonaws.com", time=at(2 + n / 60), identity=user_identity(USER, key=KEY),
               ip=AGENT_IP, read_only=True, event_id=f"home-{n:03d}")
        for n in range(home_uses)
    ]  # fmt: skip
    late = record("GetObject", "s3.amazonaws.com", time=at(30), identity=user_identity(USER, key=KEY),
                  ip=ATTACKER_IP, read_only=True, event_id="from-the-attacker")  # fmt: skip
    return [*created, *uses, late]


def _findings(records: list[dict[str, Any]], cut: int | None = None) -> list[Any]:
    events = [Event.from_record(r) for r in records]
    detector = UserBackdoor(DetectorContext(filtering=False))
    if cut is None:
        detector.feed_file(events, "userIdentity.arn")
    else:  # two shares, the later merged in (the two-process pass)
        later = UserBackdoor(DetectorContext(filtering=False))
        detector.feed_file(events[:cut], "userIdentity.arn")
        later.feed_file(events[cut:], "userIdentity.arn")
        detector.merge(later)
    return detector.finish()


@pytest.mark.parametrize("cut", [None, 5, 12, 30, 40])
def test_a_use_from_a_new_address_after_the_first_twenty_is_seen(cut: int | None) -> None:
    (found,) = _findings(_story(USES_PER_KEY + 10), cut)
    assert ATTACKER_IP in found.evidence["new_ips"]
    assert "from-the-attacker" in found.event_ids


def test_the_uses_kept_stay_bounded_however_many_addresses() -> None:
    records = _story(USES_PER_KEY)
    sprayed = [
        record("ListBuckets", "s3.amazonaws.com", time=at(10 + n / 60), identity=user_identity(USER, key=KEY),
               ip=f"203.0.113.{n % 250}", read_only=True, event_id=f"spray-{n:04d}")
        for n in range(500)
    ]  # fmt: skip
    detector = UserBackdoor(DetectorContext(filtering=False))
    detector.feed_file([Event.from_record(r) for r in records[:-1] + sprayed], "userIdentity.arn")
    assert len(detector._uses[KEY]) == MAX_KEY_USES  # the first 20, then 20 new addresses
