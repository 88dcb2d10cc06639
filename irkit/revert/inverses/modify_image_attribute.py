"""ModifyImageAttribute (launchPermission add) → the outside accounts (and "all") removed."""

from __future__ import annotations

from irkit.revert.inverses._record import OUTSIDE, record
from irkit.revert.inverses._share import SharingInverse


class ModifyImageAttribute(SharingInverse):
    event = "ModifyImageAttribute"
    service = "ec2"
    permissions = ("ec2:DescribeImageAttribute", "ec2:ModifyImageAttribute")
    noun, kind = "AMI", "image"
    id_field, id_param = "imageId", "ImageId"
    attribute, answer_key = "launchPermission", "LaunchPermissions"
    gone = ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")
    example = record(
        "ec2",
        "ModifyImageAttribute",
        {
            "imageId": "ami-0123456789abcdef0",
            "attributeType": "launchPermission",
            "launchPermission": {"add": {"items": [{"userId": OUTSIDE}]}},
        },
    )

    def removal(self, resource: str, users: list[str], public: bool) -> dict[str, object]:
        remove = [{"UserId": u} for u in users] + ([{"Group": "all"}] if public else [])
        return {"ImageId": resource, "LaunchPermission": {"Remove": remove}}


INVERSE = ModifyImageAttribute()
