"""Signatures for bundles and exports that travel without the repository.

A digest proves a file is whole, not who made it: anyone can edit a bundle and recompute its digest. A
signature made with a key the forger does not have closes that gap. Two kinds, both embedded in the document
as its `signature` field (left out of the release digest), over the canonical bytes of everything else:

- `ssh`: `ssh-keygen -Y sign` with an SSH key, as git signs tags with `gpg.format ssh`, in the namespace
  `promptops`; checked with `ssh-keygen -Y verify` against an allowed-signers file (the format git's
  `gpg.ssh.allowedSignersFile` uses).
- `hmac-sha256`: a shared secret key; whoever holds the key can both sign and check.

Standard library and `ssh-keygen` only: an application's runtime calls `check` to refuse an unsigned or
forged bundle without loading typer, rich, GitPython or litellm.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .digest import canonical
from .errors import GateFailed, InputError, UnavailableError

FIELD = "signature"
NAMESPACE = "promptops"
SSH = "ssh"
HMAC = "hmac-sha256"


def payload(doc: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the canonical document without its signature."""
    return canonical({k: v for k, v in doc.items() if k != FIELD})


def sign(
    doc_or_bytes: Mapping[str, Any] | bytes, *, ssh_key: Path | None = None, hmac_key: bytes | None = None
) -> dict[str, Any]:
    """The document with a `signature` field, made with an SSH private key (a path) or an HMAC key (bytes)."""
    doc = _document(doc_or_bytes)
    if (ssh_key is None) == (hmac_key is None):
        raise InputError("sign with one key: an SSH key or an HMAC key")
    data = payload(doc)
    if hmac_key is not None:
        _need_key(hmac_key)
        signature = {"method": HMAC, "mac": hmac.new(hmac_key, data, hashlib.sha256).hexdigest()}
    else:
        assert ssh_key is not None
        signature = {"method": SSH, "namespace": NAMESPACE, "signature": ssh_sign(data, ssh_key, NAMESPACE)}
    return {**{k: v for k, v in doc.items() if k != FIELD}, FIELD: signature}


def check(
    doc_or_bytes: Mapping[str, Any] | bytes,
    *,
    allowed_signers: Path | None = None,
    hmac_key: bytes | None = None,
    require: bool = False,
) -> str:
    """Who or what signed the document, checked; GateFailed (exit 1) for a signature that does not match, and,
    with `require`, for a document without one. A signature there is no key to check is reported as such
    (and refused with `require`)."""
    doc = _document(doc_or_bytes)
    signature = doc.get(FIELD)
    if signature is None:
        if require:
            raise GateFailed("the file is not signed", hint="sign it with `--sign` when it is written")
        return "unsigned"
    method = signature.get("method") if isinstance(signature, dict) else None
    if method == HMAC:
        return _check_hmac(doc, signature, hmac_key, require)
    if method == SSH:
        return _check_ssh(doc, signature, allowed_signers, require)
    raise GateFailed(f"the file's signature is damaged or of an unknown kind ({str(method)[:40]!r})")


def _check_hmac(doc: Mapping[str, Any], signature: Mapping[str, Any], key: bytes | None, require: bool) -> str:
    if key is None:
        if require:
            raise InputError(
                "the file has an HMAC signature, and no HMAC key was given to check it", hint="pass --hmac-env NAME"
            )
        return "HMAC-SHA256 signature, not checked (no key given)"
    _need_key(key)
    expected = hmac.new(key, payload(doc), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signature.get("mac", ""))):
        raise GateFailed("the HMAC signature does not match the content (edited after signing, or another key)")
    return "HMAC-SHA256 signature, good"


def _check_ssh(doc: Mapping[str, Any], signature: Mapping[str, Any], allowed: Path | None, require: bool) -> str:
    if allowed is None:
        if require:
            raise InputError(
                "the file has an SSH signature, and no allowed-signers file was given to check it",
                hint="pass --allowed-signers FILE",
            )
        return "SSH signature, not checked (no allowed-signers file given)"
    if not allowed.is_file():
        raise InputError("no such allowed-signers file", file=str(allowed))
    if signature.get("namespace") != NAMESPACE or not isinstance(signature.get("signature"), str):
        raise GateFailed("the SSH signature is damaged (or made for another purpose than a promptops file)")
    principal = ssh_verify(payload(doc), signature["signature"], allowed, NAMESPACE, what="the file")
    return f"SSH signature by {principal}, good"


def ssh_sign(data: bytes, key: Path, namespace: str) -> str:
    """The armored SSH signature of `data` made with the private key `key` in `namespace` (`ssh-keygen -Y sign`)."""
    return _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", namespace, "-q"], data, what=f"sign with {key}")


def ssh_verify(data: bytes, armored: str, allowed: Path, namespace: str, *, what: str = "the statement") -> str:
    """The principal of `allowed` (an allowed-signers file) whose key made `armored` over `data` in `namespace`
    (the first one listed, when the key is listed under several); GateFailed (exit 1) when no listed key made it,
    or it does not match the data or the namespace."""
    return ssh_principals(data, armored, allowed, namespace, what=what)[0]


def ssh_principals(
    data: bytes, armored: str, allowed: Path, namespace: str, *, what: str = "the statement"
) -> list[str]:
    """Every principal of `allowed` listed with the key that made `armored` over `data` in `namespace`, in the
    file's order; GateFailed (exit 1) as `ssh_verify`."""
    with tempfile.TemporaryDirectory(prefix="promptops-sig-") as tmp:
        sig = Path(tmp) / "file.sig"
        sig.write_text(armored, encoding="utf-8")
        found = _run(["-Y", "find-principals", "-s", str(sig), "-f", str(allowed)], b"")
        principals = found.stdout.decode("utf-8", "replace").split()
        if found.returncode != 0 or not principals:
            raise GateFailed(f"{what} is signed by a key that {allowed} does not list")
        done = _run(["-Y", "verify", "-f", str(allowed), "-I", principals[0], "-n", namespace, "-s", str(sig)], data)
    if done.returncode != 0:
        raise GateFailed(f"the SSH signature does not match the content of {what} (edited after signing?)")
    # find-principals names only the first line listing the key (OpenSSH 9): the others are read here.
    more = _listed(allowed, ssh_fingerprint(armored))
    return [*principals, *(p for p in more if p not in principals)]


def _listed(allowed: Path, fingerprint: str) -> list[str]:
    """The principals of every line of an allowed-signers file that lists the key with `fingerprint`."""
    found: list[str] = []
    if not fingerprint:
        return found
    for line in allowed.read_text(encoding="utf-8", errors="replace").splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        for token in tokens[1:]:
            try:
                blob = base64.b64decode(token, validate=True)
            except ValueError:
                continue
            if blob and _fingerprint(blob) == fingerprint:
                found.extend(p for p in tokens[0].strip('"').split(",") if p and p not in found)
                break
    return found


def _fingerprint(key: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(key).digest()).decode("ascii").rstrip("=")


def ssh_fingerprint(armored: str) -> str:
    """The SHA256 fingerprint of the public key an armored SSH signature carries ("" when it cannot be read)."""
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or not lines[0].startswith("-----BEGIN SSH SIGNATURE") or not lines[-1].startswith("-----END"):
        return ""
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        return ""
    # SSHSIG: magic "SSHSIG", uint32 version, then the public key as an SSH string (uint32 length + bytes).
    if not blob.startswith(b"SSHSIG") or len(blob) < 14:
        return ""
    size = int.from_bytes(blob[10:14], "big")
    key = blob[14 : 14 + size]
    if len(key) != size or not key:
        return ""
    return _fingerprint(key)


def _document(doc_or_bytes: Mapping[str, Any] | bytes) -> dict[str, Any]:
    if not isinstance(doc_or_bytes, bytes):
        return dict(doc_or_bytes)
    try:
        doc = json.loads(doc_or_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise GateFailed(f"not a promptops file: {exc}") from None
    if not isinstance(doc, dict):
        raise GateFailed("not a promptops file (not a JSON object)")
    return doc


def _need_key(key: bytes) -> None:
    if len(key) < 16:
        raise InputError("the HMAC key is too short", hint="use at least 16 bytes, e.g. `openssl rand -hex 32`")


def _ssh_keygen(args: list[str], data: bytes, what: str) -> str:
    done = _run(args, data)
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(
            f"cannot {what}: {err[-1] if err else 'ssh-keygen failed'}", hint="pass the path of an SSH private key"
        )
    return done.stdout.decode("utf-8")


def _run(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    program = shutil.which("ssh-keygen")
    if program is None:
        raise UnavailableError(
            "ssh-keygen is not installed, and SSH signatures need it",
            hint="install OpenSSH's client (Debian: openssh-client)",
        )
    try:
        return subprocess.run([program, *args], input=data, capture_output=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:
        raise UnavailableError(
            "ssh-keygen did not answer within 60 s", hint="a key with a passphrase needs ssh-agent to sign unattended"
        ) from None
