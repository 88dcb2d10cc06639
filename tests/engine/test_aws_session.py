"""irkit's AWS sessions: one parsed copy of the service models per process, the same errors as boto3's."""

from __future__ import annotations

import pytest

from irkit.aws.session import Aws, StaticCredentials, new_session
from irkit.config import AwsSettings
from irkit.errors import ConfigError


def test_sessions_share_one_model_loader_and_its_search_path_stays_bounded() -> None:
    first, second = new_session(region_name="us-east-1"), new_session(region_name="us-west-2")
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    paths = list(loader.search_paths)
    assert len(paths) == len(set(paths))  # boto3 appends its folder on every session: kept once
    for _ in range(3):
        new_session()
    assert loader.search_paths == paths
    # Separate sessions all the same: their own region and credentials.
    assert (first.region_name, second.region_name) == ("us-east-1", "us-west-2")
    creds = StaticCredentials("AKIASHAREDLOADER0000", "not-a-secret-shared-loader")
    aws = Aws(AwsSettings(region="eu-west-1"), credentials=creds)
    assert aws._session.get_credentials().access_key == "AKIASHAREDLOADER0000"
    assert new_session().get_credentials().access_key != "AKIASHAREDLOADER0000"
    # A client from the shared loader works like any other.
    assert aws.client("iam").meta.service_model.service_name == "iam"


def test_a_profile_that_does_not_exist_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    new_session()  # the shared loader exists already: the profile is still checked
    with pytest.raises(ConfigError, match="'no-such-irkit-profile' not found"):
        Aws(AwsSettings(region="us-east-1", profile="no-such-irkit-profile"))
