from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from takedown.lib.defang import defang
from takedown.lib.env import env_bool, env_hostport, env_int, env_int_list, env_secret


def test_it_reads_booleans_and_refuses_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_it_refuses_a_non_integer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_N", "12a")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_N", 1)


def test_it_reads_integer_lists_and_refuses_a_bad_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_INTS", "600, 3600,")
    assert env_int_list("X_INTS", [1]) == [600, 3600]
    monkeypatch.setenv("X_INTS", "600,AS64500")
    with pytest.raises(ImproperlyConfigured, match="'AS64500' is not an integer"):
        env_int_list("X_INTS", [1])
    monkeypatch.setenv("X_INTS", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int_list("X_INTS", [1], minimum=1)


def test_it_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("hunter2\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_secret("X_SECRET") == "hunter2"
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("X_SECRET")


def test_it_parses_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_HP", "127.0.0.1:5353")
    assert env_hostport("X_HP") == ("127.0.0.1", 5353)
    monkeypatch.setenv("X_HP", "nohost")
    with pytest.raises(ImproperlyConfigured):
        env_hostport("X_HP")


def test_it_defangs_scheme_and_host_only() -> None:
    assert (
        defang("https://login.bank.example/a.php?x=1.2")
        == "hxxps://login[.]bank[.]example/a.php?x=1.2"
    )
