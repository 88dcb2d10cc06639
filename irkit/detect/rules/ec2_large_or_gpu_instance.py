"""Instances launched with GPU, accelerator, compute-optimised (4xlarge+) or very large (12xlarge+,
metal) types: the cryptominer's choice.

```yaml
id: ec2_large_or_gpu_instance
events: [RunInstances]
```
"""

from __future__ import annotations

import re

from irkit.detect.event import Event
from irkit.detect.policy import items
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

# GPU / accelerator families, and sizes that cost more than an agent normally launches.
_GPU = re.compile(r"^(p\d|g\d|gr\d|inf\d|trn\d|dl\d|f\d|vt\d)[a-z]*\.", re.I)
_BIG = re.compile(r"\.(metal.*|\d{2,}xlarge)$", re.I)
_HUGE_FAMILY = re.compile(r"^(x\d|u-|hpc\d)", re.I)
# CPU miners favour compute-optimised families: from 4xlarge (16 vCPU) up they are flagged too.
_COMPUTE = re.compile(r"^c\d+[a-z]*\.(\d+)xlarge$", re.I)
COMPUTE_MIN_SIZE = 4


def instance_types(event: Event) -> list[str]:
    types = [str(t) for t in [req(event, "instanceType")] if t]
    for item in items(event.response.get("instancesSet")):
        if item.get("instanceType"):
            types.append(str(item["instanceType"]))
    return sorted(set(types))


def is_suspicious_type(itype: str) -> bool:
    if _GPU.match(itype) or _HUGE_FAMILY.match(itype):
        return True
    compute = _COMPUTE.match(itype)
    if compute and int(compute.group(1)) >= COMPUTE_MIN_SIZE:
        return True
    m = re.search(r"\.(\d+)xlarge$", itype)
    return bool(_BIG.search(itype)) and (m is None or int(m.group(1)) >= 12)


def _match(event: Event) -> bool:
    return event.event_name == "RunInstances" and any(is_suspicious_type(t) for t in instance_types(event))


def _describe(event: Event) -> str:
    return f"launched {', '.join(instance_types(event))} in {event.region}"


def _run(itype: str) -> dict[str, object]:
    return {
        "instancesSet": {"items": [{"imageId": "ami-0abc1234def567890", "minCount": 1, "maxCount": 1}]},
        "instanceType": itype,
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "disableApiStop": False,
    }


RULE = Rule(
    id="ec2_large_or_gpu_instance",
    title="GPU or very large EC2 instance launched",
    severity="high",
    mitre=("T1496",),
    why="Cryptomining runs on GPU and large instances; the seed's miner cost $15K in three days.",
    remediation="Terminate the instances, then find how they were launched (user data, AMI) and by whom.",
    match=_match,
    describe=_describe,
    events=("RunInstances",),
    tactic="impact",
    positive=(
        record("RunInstances", "ec2.amazonaws.com", request=_run("p4d.24xlarge")),
        record("RunInstances", "ec2.amazonaws.com", request=_run("g5.12xlarge")),
        record("RunInstances", "ec2.amazonaws.com", request=_run("c6i.metal")),
        record("RunInstances", "ec2.amazonaws.com", request=_run("c5.4xlarge")),
    ),
    negative=(
        record("RunInstances", "ec2.amazonaws.com", request=_run("t3.medium")),
        record("RunInstances", "ec2.amazonaws.com", request=_run("m6i.2xlarge")),
        record("RunInstances", "ec2.amazonaws.com", request=_run("c5.2xlarge")),
    ),
)
