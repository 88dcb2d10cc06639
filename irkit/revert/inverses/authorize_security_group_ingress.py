"""AuthorizeSecurityGroupIngress → RevokeSecurityGroupIngress by the rule ids of the response (the request's
permissions when the response has none), verified by describing the rules again."""

from __future__ import annotations

from irkit.revert.inverses._record import ACCOUNT, record
from irkit.revert.inverses._sg import AuthorizeRule, example_request, example_response


class AuthorizeSecurityGroupIngress(AuthorizeRule):
    event = "AuthorizeSecurityGroupIngress"
    egress = False
    permissions = ("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress")
    example = record(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        example_request("sg-0123456789abcdef0"),
        example_response("sg-0123456789abcdef0", ACCOUNT, egress=False),
    )


INVERSE = AuthorizeSecurityGroupIngress()
