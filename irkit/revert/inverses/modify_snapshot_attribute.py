"""ModifySnapshotAttribute (createVolumePermission add) → the outside accounts (and "all") removed."""

from __future__ import annotations

from irkit.revert.inverses._record import OUTSIDE, record
from irkit.revert.inverses._share import SharingInverse


class ModifySnapshotAttribute(SharingInverse):
    event = "ModifySnapshotAttribute"
    service = "ec2"
    permissions = ("ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute")
    noun, kind = "snapshot", "snapshot"
    id_field, id_param = "snapshotId", "SnapshotId"
    attribute, answer_key = "createVolumePermission", "CreateVolumePermissions"
    gone = ("InvalidSnapshot.NotFound",)
    example = record(
        "ec2",
        "ModifySnapshotAttribute",
        {
            "snapshotId": "snap-0123456789abcdef0",
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [{"userId": OUTSIDE}]}},
        },
    )

    def removal(self, resource: str, users: list[str], public: bool) -> dict[str, object]:
        args: dict[str, object] = {"SnapshotId": resource, "Attribute": self.attribute, "OperationType": "remove"}
        if users:
            args["UserIds"] = users
        if public:
            args["GroupNames"] = ["all"]
        return args


INVERSE = ModifySnapshotAttribute()
