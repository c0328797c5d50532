"""Scopes nest (contract.access); API keys parse as `rk_<id>_<secret>` (storage.keys); run options shown without
their secrets' values (api.views)."""

from __future__ import annotations

from typing import Any

import pytest

from api.views import REDACTED, redact_options
from contract.access import Scope
from storage.keys import digest, key_id_of


@pytest.mark.parametrize(("have", "need", "allowed"), [
    (Scope.READ, Scope.READ, True), (Scope.READ, Scope.RUN, False), (Scope.READ, Scope.ADMIN, False),
    (Scope.RUN, Scope.READ, True), (Scope.RUN, Scope.RUN, True), (Scope.RUN, Scope.ADMIN, False),
    (Scope.ADMIN, Scope.READ, True), (Scope.ADMIN, Scope.RUN, True), (Scope.ADMIN, Scope.ADMIN, True),
])
def test_scopes_nest(have: Scope, need: Scope, allowed: bool) -> None:
    assert have.allows(need) is allowed


@pytest.mark.parametrize(("key", "key_id"), [
    ("rk_ab12cd_s3cr-et_with_underscores", "ab12cd"),
    ("rk__secret", None), ("rk_id_", None), ("rk_id", None), ("ab_cd_ef", None), ("", None),
    ("rk_id_" + "x" * 300, None),
])
def test_key_ids_are_read_from_well_formed_keys_only(key: str, key_id: str | None) -> None:
    assert key_id_of(key) == key_id


def test_keys_are_stored_as_sha256() -> None:
    assert digest("rk_a_b") == "3c1bbc3492e7c0444ef1dd52f219195e10b2e98091a71add8ccecadfe3eedd07"


def test_redaction_keeps_names_and_hides_values() -> None:
    options: dict[str, Any] = {
        "video": "on",
        "variables": {"USER": "ada", "PASSWORD": "hunter2"},
        "extraHttpHeaders": {"Authorization": "Bearer x"},
        "storageState": {"cookies": [{"name": "sid", "value": "abc", "domain": "a.test"}, "odd"],
                         "origins": [{"origin": "https://a.test", "localStorage": [{"name": "t", "value": "v"}]}]},
    }
    shown = redact_options(options)
    assert shown["video"] == "on"
    assert shown["variables"] == {"USER": REDACTED, "PASSWORD": REDACTED}
    assert shown["extraHttpHeaders"] == {"Authorization": REDACTED}
    assert shown["storageState"]["cookies"] == [{"name": "sid", "value": REDACTED, "domain": "a.test"}, REDACTED]
    assert shown["storageState"]["origins"][0]["localStorage"] == [{"name": "t", "value": REDACTED}]
    assert options["variables"]["PASSWORD"] == "hunter2"  # the stored options are left alone
