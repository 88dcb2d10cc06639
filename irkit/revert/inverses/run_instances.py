"""RunInstances → the instances tagged with the case, stop and termination protection cleared, stopped
(terminated only with ``terminate_instances``), in the event's region. Launch templates, auto scaling
groups and fleets that would start them again are named (their tags say so): stop those by hand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.revert.calls import pages, read
from irkit.revert.inverses._record import record
from irkit.revert.model import (
    CASE_TAG,
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    get,
    items,
    make_change,
    present,
    text,
    undone,
)

NOT_FOUND = ("InvalidInstanceID.NotFound",)
_RECREATORS = {
    "aws:autoscaling:groupName": "auto scaling group",
    "aws:ec2launchtemplate:id": "launch template",
    "aws:ec2:fleet-id": "EC2 fleet",
    "aws:ec2spot:fleet-request-id": "spot fleet request",
    "eks:nodegroup-name": "EKS node group",
}
_DEAD = frozenset({"terminated", "shutting-down"})
_QUIET = frozenset({"stopped", "stopping"})


class RunInstances(Inverse):
    event = "RunInstances"
    service = "ec2"
    reversibility = Reversibility.DESTRUCTIVE
    permissions = (
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceAttribute",
        "ec2:CreateTags",
        "ec2:ModifyInstanceAttribute",
        "ec2:StopInstances",
        "ec2:TerminateInstances",
    )
    example = record(
        "ec2",
        "RunInstances",
        {
            "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 6, "maxCount": 6}]},
            "instanceType": "p3.2xlarge",
            "userData": "<sensitiveDataRemoved>",
            "blockDeviceMapping": {},
            "monitoring": {"enabled": False},
            "disableApiTermination": True,
        },
        {
            "reservationId": "r-0123456789abcdef0",
            "ownerId": "111122223333",
            "instancesSet": {
                "items": [
                    {
                        "instanceId": f"i-0aa00000000000{n:03d}",
                        "imageId": "ami-0abcdef1234567890",
                        "instanceType": "p3.2xlarge",
                        "placement": {"availabilityZone": "ap-southeast-1a"},
                    }
                    for n in range(6)
                ]
            },
        },
        region="ap-southeast-1",
    )

    def change(self, event: Event) -> Change | None:
        ids = [text(i.get("instanceId")) for i in items(get(event.response, "instancesSet")) if isinstance(i, Mapping)]
        ids = [i for i in ids if i]
        if not ids:
            return None
        template = get(event.request, "launchTemplate", "launchTemplateId") or get(
            event.request, "launchTemplate", "launchTemplateName"
        )
        return make_change(
            event,
            resource=f"{len(ids)} instance(s) in {event.region}: {', '.join(ids[:5])}" + (" …" if len(ids) > 5 else ""),
            key=f"ec2:instances:{event.region}:{','.join(sorted(ids))}",
            params={"instance_ids": ids, "launch_template": text(template)},
            match=[[i] for i in ids],
        )

    def _instances(self, change: Change, ctx: PlanContext) -> list[Mapping[str, Any]]:
        ids = [str(i) for i in change.params["instance_ids"]]
        reservations = pages(
            ctx.client,
            "ec2:DescribeInstances",
            change.region,
            change.resource,
            "Reservations",
            Filters=[{"Name": "instance-id", "Values": ids}],
        )
        return [i for r in reservations for i in r.get("Instances", []) if i.get("InstanceId") in ids]

    def _protected(self, change: Change, ctx: PlanContext, instance: str, attribute: str) -> bool:
        key = attribute[0].upper() + attribute[1:]
        got = read(
            ctx.client,
            "ec2:DescribeInstanceAttribute",
            change.region,
            instance,
            missing=(*NOT_FOUND, "InvalidParameterValue", "UnsupportedOperation"),
            InstanceId=instance,
            Attribute=attribute,
        )
        return bool(get(got, key, "Value"))

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        alive = [i for i in self._instances(change, ctx) if get(i, "State", "Name") not in _DEAD]
        terminate = bool(ctx.option("terminate_instances", False))
        notes = self._recreators(change, alive)
        if not alive:
            return Undo(status="nothing to do", notes=("the instances are terminated or gone", *notes))
        ids = [str(i["InstanceId"]) for i in alive]
        r = change.region
        calls = [
            Call(
                "ec2:CreateTags",
                r,
                {"Resources": ids, "Tags": [{"Key": CASE_TAG, "Value": ctx.case_id}]},
                f"tag {CASE_TAG}={ctx.case_id}",
                NOT_FOUND,
            )
        ]
        for i in ids:
            for attribute in ("disableApiStop", "disableApiTermination"):
                if self._protected(change, ctx, i, attribute):
                    key = attribute[0].upper() + attribute[1:]
                    calls.append(
                        Call(
                            "ec2:ModifyInstanceAttribute",
                            r,
                            {"InstanceId": i, key: {"Value": False}},
                            f"clear {attribute} on {i}",
                            NOT_FOUND,
                        )
                    )
        running = [str(i["InstanceId"]) for i in alive if get(i, "State", "Name") not in _QUIET]
        if terminate:
            calls.append(Call("ec2:TerminateInstances", r, {"InstanceIds": ids}, f"terminate {len(ids)}", NOT_FOUND))
        elif running:
            calls.append(Call("ec2:StopInstances", r, {"InstanceIds": running}, f"stop {len(running)}", NOT_FOUND))
        if not terminate:
            notes = ["stopped, not terminated: their volumes are evidence (terminate_instances to terminate)", *notes]
        return Undo(tuple(calls), notes=tuple(notes))

    def _recreators(self, change: Change, instances: list[Mapping[str, Any]]) -> list[str]:
        found: dict[str, set[str]] = {}
        for inst in instances:
            for tag in inst.get("Tags") or []:
                kind = _RECREATORS.get(str(tag.get("Key")))
                if kind:
                    found.setdefault(kind, set()).add(str(tag.get("Value")))
        if change.params.get("launch_template"):
            found.setdefault("launch template", set()).add(str(change.params["launch_template"]))
        return [
            f"{kind} {', '.join(sorted(names))} would start them again: stop it by hand"
            for kind, names in found.items()
        ]

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        instances = self._instances(change, ctx)
        states = {str(i["InstanceId"]): str(get(i, "State", "Name")) for i in instances}
        running = sorted(i for i, s in states.items() if s not in _DEAD | _QUIET)
        if running:
            return present(f"still running: {', '.join(running[:10])}")
        return undone(f"{len(states)} stopped or terminated, {len(change.params['instance_ids']) - len(states)} gone")

    def snapshot(self, change: Change, ctx: PlanContext) -> Mapping[str, Any]:
        return {"instances": {str(i["InstanceId"]): get(i, "State", "Name") for i in self._instances(change, ctx)}}


INVERSE = RunInstances()
