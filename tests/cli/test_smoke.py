from pathlib import Path

from conftest import MINIMAL


def test_minimal_project_lints_clean(make_repo, cli) -> None:
    root: Path = make_repo(MINIMAL)
    code, out, err = cli("lint", "--repo", root)
    assert code == 0, out + err
    assert "0 errors, 0 warnings" in err
