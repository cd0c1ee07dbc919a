"""The key-encryption key file: made private, and refused when it is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from issuer.keyring.kek import load_kek
from issuer.settings import ConfigError, Settings


def _settings(keys_dir: Path) -> Settings:
    return Settings.from_env({"ISSUER_KEYS_DIR": str(keys_dir)})


def test_a_created_kek_is_private_and_read_back(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "keys")
    first = load_kek(settings)
    assert os.stat(settings.kek_path).st_mode & 0o777 == 0o600
    assert load_kek(settings) == first


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_kek_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    settings = _settings(tmp_path / "keys")
    load_kek(settings)
    os.chmod(settings.kek_path, mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_kek(settings)


def test_the_kek_setting_needs_no_file(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"ISSUER_KEYS_DIR": str(tmp_path / "none"), "ISSUER_KEK": "A" * 43}
    )
    assert load_kek(settings, create=False) == settings.kek
    assert not (tmp_path / "none").exists()
