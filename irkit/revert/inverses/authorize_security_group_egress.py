"""AuthorizeSecurityGroupEgress → RevokeSecurityGroupEgress by the rule ids of the response (the request's
permissions when the response has none), verified by describing the rules again."""

from __future__ import annotations

from irkit.revert.inverses._record import ACCOUNT, record
from irkit.revert.inverses._sg import AuthorizeRule, example_request, example_response


class AuthorizeSecurityGroupEgress(AuthorizeRule):
    event = "AuthorizeSecurityGroupEgress"
    egress = True
    permissions = ("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupEgress")
    example = record(
        "ec2",
        "AuthorizeSecurityGroupEgress",
        example_request("sg-0123456789abcdef0"),
        example_response("sg-0123456789abcdef0", ACCOUNT, egress=True),
    )


INVERSE = AuthorizeSecurityGroupEgress()
