"""What the drill's terraform resource does to the simulated world: ``python -m irkit.drill.tfhook``.

The drill's IaC is a ``null_resource`` standing for a security group rule (the null provider is the
only one that works offline): its create-time provisioner authorizes the rule on the simulator, its
destroy-time provisioner revokes it, so a terraform apply really changes the world. Credentials come
from the environment terraform passes on (the agent's, or the responder's during the revert). When
``IRKIT_DRILL_TFHOOK_LOG`` names a file, each call is appended to it, and the drill turns those lines
into the CloudTrail records of whoever ran terraform.

    python -m irkit.drill.tfhook authorize|revoke GROUP CIDR PORT ENDPOINT REGION
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions

LOG_ENV = "IRKIT_DRILL_TFHOOK_LOG"


def _log(operation: str, request: dict[str, Any], response: Mapping[str, Any]) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    with open(path, "a", encoding="utf-8") as fh:  # noqa: PTH123 - one line per call, appended
        fh.write(json.dumps({"operation": operation, "request": request, "response": body}) + "\n")


def main(argv: list[str]) -> int:
    action, group, cidr, port, endpoint, region = argv
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint)
    perm = {"IpProtocol": "tcp", "FromPort": int(port), "ToPort": int(port), "IpRanges": [{"CidrIp": cidr}]}
    if action == "authorize":
        request: dict[str, Any] = {"GroupId": group, "IpPermissions": [perm]}
        try:
            response = ec2.authorize_security_group_ingress(**request)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidPermission.Duplicate":
                return 0
            raise
        _log("AuthorizeSecurityGroupIngress", request, response)
        return 0
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]
    ids = [
        r["SecurityGroupRuleId"]
        for r in rules
        if not r.get("IsEgress") and r.get("CidrIpv4") == cidr and r.get("FromPort") == int(port)
    ]
    if ids:
        request = {"GroupId": group, "SecurityGroupRuleIds": ids}
        _log("RevokeSecurityGroupIngress", request, ec2.revoke_security_group_ingress(**request))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
