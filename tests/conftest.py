"""Shared fixtures: sealed git, throwaway repositories built from dicts, and guards against escapes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from promptops import clock as promptops_clock

if TYPE_CHECKING:
    from provider_server import ProviderServer
    from scripted_provider import ScriptedProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Test modules have unique names across the folders and import each other's helpers by name (test_signing's
# keys, test_report_results' representative report): every folder is importable whichever tests are selected.
for _folder in sorted(Path(__file__).resolve().parent.iterdir()):
    if _folder.is_dir() and any(_folder.glob("test_*.py")) and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-bot"
GIT_DATE = "2026-01-01T00:00:00+00:00"


@pytest.fixture(autouse=True)
def sealed_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git identity and config sealed, home redirected, inherited GIT_* variables dropped, colour off."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.test")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.test")
    monkeypatch.setenv("GIT_AUTHOR_DATE", GIT_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", GIT_DATE)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PROMPTOPS_DEBUG", raising=False)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond the loopback interface fails the test loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and not (host.startswith("127.") or host in ("localhost", "::1"))
            and self.family in (socket.AF_INET, socket.AF_INET6)
        ):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


class Clock:
    """One test clock for what promptops dates (ledger events, through `promptops.clock`) and what git dates
    (author and committer dates). It stands still at GIT_DATE unless the test sets it, advances it, or gives it
    a `step` by which every reading moves it first."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.step = timedelta(0)
        self.current = datetime.fromisoformat(GIT_DATE)

    def read(self) -> datetime:
        if self.step:
            self.advance(self.step)
        return self.current

    def set(self, when: str, *, git: bool = True) -> None:
        """Move to `when` (ISO 8601, `Z` allowed); git's dates follow unless `git` is off (a skewed clock)."""
        self.current = datetime.fromisoformat(when.replace("Z", "+00:00"))
        for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE") if git else ():
            self.monkeypatch.setenv(name, self.current.isoformat())

    def advance(self, delta: timedelta = timedelta(minutes=1)) -> None:
        self.set((self.current + delta).isoformat())

    def stamp(self) -> str:
        """The current time as promptops records it."""
        return self.current.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Fixed time for the ledger and for git, installed through promptops' own clock seam and put back after."""
    fixed = Clock(monkeypatch)
    previous = promptops_clock.use(fixed.read)
    try:
        yield fixed
    finally:
        promptops_clock.use(previous)


def git(cwd: Path, *args: str) -> str:
    """Run the real git binary in a test repository."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def write_tree(root: Path, files: dict[str, str | bytes | None]) -> None:
    """Write files from a dict; None deletes a file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """make_repo(files, git=True, commit="msg") -> a project directory, committed when git is on."""
    counter = iter(range(1000))

    def build(files: dict[str, str | bytes | None], *, use_git: bool = True, message: str = "initial") -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        write_tree(root, files)
        if use_git:
            git(root, "init", "-q")
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", message)
        return root

    return build


_BUILT: dict[str, Path] = {}


@pytest.fixture
def reuse(tmp_path: Path) -> Callable[[str, Callable[[], Path]], Path]:
    """reuse(key, build) -> this test's own copy of the directory build() makes, built once per session.

    For fixtures that are slow to make and the same every time (sealed git: fixed identity and dates; no port,
    clock or random value in what they write). The copy keeps the directory's name, and no test sees another's.
    """

    def get(key: str, build: Callable[[], Path]) -> Path:
        if key not in _BUILT:
            _BUILT[key] = build()
        dest = tmp_path / "reused" / _BUILT[key].name
        shutil.copytree(_BUILT[key], dest, symlinks=True)
        return dest

    return get


def retag(root: Path, tag: str, message: str, target: str | None = None) -> None:
    """Rewrite an annotated tag by hand, as a forger would: `message` verbatim, on `target` (default: where it is)."""
    target = target or git(root, "rev-parse", f"{tag}^{{commit}}")
    subprocess.run(
        ["git", "tag", "-f", "-a", "--cleanup=verbatim", "-F", "-", tag, target],
        cwd=root,
        input=message.encode(),
        capture_output=True,
        check=True,
    )


def commit(root: Path, files: dict[str, str | bytes | None], message: str = "change") -> str:
    write_tree(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """cli("lint", "--repo", path) -> (exit code, stdout, stderr), through promptops.cli.main."""
    from promptops.cli import main

    def invoke(*args: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    yield invoke


MINIMAL = {
    "promptops.yaml": "project: t\n",
    "routing.yaml": "defaults:\n  model: fast\nmodels:\n  fast:\n    model: openai/gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\n",
    "prompts/greet.prompt": (
        "---\ndescription: greets\nowner: '@team'\ninputs:\n  name:\n    type: string\n---\n"
        'system:\n{% include "shared/_tone.j2" %}\nuser:\nHello {{ name }}!\n'
    ),
    "prompts/shared/_tone.j2": "Be brief.\n",
    "evals/greet.yaml": "prompt: greet\ncases:\n  - id: ada\n    vars: {name: Ada}\n    assert:\n      - {type: contains, value: Ada}\n",
}


@pytest.fixture
def minimal_files() -> dict[str, str | bytes | None]:
    """A small project that lints clean."""
    return dict(MINIMAL)


# -- eval: the test provider server and its key ------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    from provider_server import ProviderServer

    with ProviderServer() as srv:
        yield srv


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    from eval_fixtures import SECRET

    monkeypatch.setenv("PROMPTOPS_TEST_KEY", SECRET)
    return SECRET


@pytest.fixture
def scripted() -> Iterator[ScriptedProvider]:
    """The engine's live provider replaced, through `providers.register`, by a scripted fake that records its
    requests (tests/scripted_provider.py); the built-in goes back afterwards."""
    from scripted_provider import ScriptedProvider

    from promptops import providers

    providers.names()  # the built-ins first, so the fake is not registered over by them
    builtin = providers.get("litellm")
    fake = ScriptedProvider()
    providers.register("litellm", fake)
    try:
        yield fake
    finally:
        providers.register("litellm", builtin)
