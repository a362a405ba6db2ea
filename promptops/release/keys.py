"""Signing what the release commands write (bundles, exports): with the key named, or else the SSH key git
signs with (`gpg.format ssh`, `user.signingKey`), so that a team signs its files as it signs its tags."""

from __future__ import annotations

from pathlib import Path

from ..digest import canonical
from ..errors import InputError
from ..git import GitRepo, toplevel
from ..signing import sign

KEY_HINT = "pass --signing-key PATH or --hmac-env NAME, or set git's gpg.format to ssh and user.signingKey"


def git_signing_key(root: Path) -> Path:
    """The SSH key git signs with in the repository at `root`; an InputError when git is not set up for one."""
    if toplevel(root) is None:
        raise InputError("--sign needs a key", hint=KEY_HINT)
    repo = GitRepo(root)
    key = repo.config_value("user.signingKey")
    if repo.config_value("gpg.format") != "ssh" or not key or key.startswith("key::"):
        raise InputError("--sign needs a key, and git is not set up to sign with an SSH key file", hint=KEY_HINT)
    return Path(key).expanduser()


def signed(data: bytes, root: Path, ssh_key: Path | None = None, hmac_key: bytes | None = None) -> bytes:
    """`data` (a canonical document) with an embedded signature: by `ssh_key`, or an HMAC with `hmac_key`, or
    else by the SSH key git signs with."""
    if ssh_key is None and hmac_key is None:
        ssh_key = git_signing_key(root)
    return canonical(sign(data, ssh_key=ssh_key, hmac_key=hmac_key))
