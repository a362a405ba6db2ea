"""The golden-file helper itself: a missing golden file fails; only PROMPTOPS_UPDATE_GOLDEN=1 writes one."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_files import check_golden


def test_a_missing_golden_file_fails_and_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTOPS_UPDATE_GOLDEN", raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(AssertionError, match="missing; create it with PROMPTOPS_UPDATE_GOLDEN=1"):
        check_golden("new.txt", "hello\n", tmp_path)
    assert not (tmp_path / "new.txt").exists()


def test_update_writes_it_and_a_difference_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTOPS_UPDATE_GOLDEN", "1")
    check_golden("new.txt", "hello\n", tmp_path)
    assert (tmp_path / "new.txt").read_text() == "hello\n"
    monkeypatch.delenv("PROMPTOPS_UPDATE_GOLDEN")
    check_golden("new.txt", "hello\n", tmp_path)
    with pytest.raises(AssertionError, match="differs from golden file"):
        check_golden("new.txt", "goodbye\n", tmp_path)
