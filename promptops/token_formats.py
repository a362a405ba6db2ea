"""The token formats of the `detect-secrets` library that `redaction.py` scans for: its regex detectors.

Importing the library to read them costs about 0.1 s (its plugins import `requests`, for an online
verification we never use), and `render`, `lint` and every scrubbed error message need them. So `DETECTORS`
holds them as data (name, label, pattern and flags, in the order they are used), copied from the version
named by `VERSION`: `library_formats` gives the table when the installed library is that version, and
reads the library itself otherwise (another version may have other formats); none when it is not installed.
A test holds the table equal to what the installed library gives (regenerate it with
`python tests/test_token_formats.py`). The patterns are detect-secrets' own (Apache License 2.0, Yelp, Inc.).

Standard library only.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

# Library detectors left out: an IP address is no secret, and Artifactory's `AP...` pattern flags ordinary words.
SKIPPED = frozenset({"IPPublicDetector", "ArtifactoryDetector"})
VERSION = "1.5.0"

# (detector name, label, pattern, flags beyond re.UNICODE)
DETECTORS: tuple[tuple[str, str, str, int], ...] = (
    ("aws-access-key", "a AWS Access Key", "(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}", 0),
    (
        "aws-access-key",
        "a AWS Access Key",
        ("aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?[\\'\\\"]([0-9a-zA-Z/+]{40})[\\'\\\"]"),
        re.IGNORECASE,
    ),
    ("azure-storage-account-access-key", "a Azure Storage Account access key", "AccountKey=[a-zA-Z0-9+\\/=]{88}", 0),
    (
        "basic-auth-credentials",
        "a Basic Auth Credentials",
        ("://[^:/\\?\\#\\[\\]@!\\$\\&'\\(\\)\\*\\+,;=\\s]+:([^:/\\?\\#\\[\\]@!\\$\\&'\\(\\)\\*\\+,;=\\s]+)@"),
        0,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        (
            "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)"
            "(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| "
            "+|::)(?: *)(?:\"|\\'|)([0-9a-f]{64})(?:\"|\\'|)"
        ),
        re.IGNORECASE,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        (
            "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)"
            "(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| "
            "+|::)(?: *)(?:\"|\\'|)([a-z]{24})(?:\"|\\'|)"
        ),
        re.IGNORECASE,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:https?\\:\\/\\/)[\\w\\-]+\\:([0-9a-f]{64})\\@[\\w\\-]+\\.cloudant\\.com",
        re.IGNORECASE,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:https?\\:\\/\\/)[\\w\\-]+\\:([a-z]{24})\\@[\\w\\-]+\\.cloudant\\.com",
        re.IGNORECASE,
    ),
    ("discord-bot-token", "a Discord Bot Token", "[MNO][a-zA-Z\\d_-]{23,25}\\.[a-zA-Z\\d_-]{6}\\.[a-zA-Z\\d_-]{27}", 0),
    ("github-token", "a GitHub Token", "(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}", 0),
    ("gitlab-token", "a GitLab Token", "(glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\\-]{20,50}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "GR1348941[A-Za-z0-9_\\-]{20,50}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "glcbt-([0-9a-fA-F]{2}_)?[A-Za-z0-9_\\-]{20,50}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "glimt-[A-Za-z0-9_\\-]{25}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "glptt-[A-Za-z0-9_\\-]{40}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "glagent-[A-Za-z0-9_\\-]{50,1024}(?!\\w)", 0),
    ("gitlab-token", "a GitLab Token", "gloas-[A-Za-z0-9_\\-]{64}(?!\\w)", 0),
    (
        "ibm-cloud-iam-key",
        "a IBM Cloud IAM Key",
        (
            "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:ibm(?:_|-|)cloud(?:_|-|)iam|cloud"
            "(?:_|-|)iam|ibm(?:_|-|)cloud|ibm(?:_|-|)iam|ibm|iam|cloud|)(?:_|-|)(?:"
            "api|)(?:_|-|)(?:key|pwd|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:="
            "|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-zA-Z0-9_\\-]{44}(?![a-zA-Z0-9_\\-]))(?"
            ":\"|\\'|)"
        ),
        re.IGNORECASE,
    ),
    (
        "ibm-cos-hmac-credentials",
        "a IBM COS HMAC Credentials",
        (
            "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:(?:ibm)?[-_]?cos[-_]?(?:hmac)?|)("
            "?:_|-|)(?:secret[-_]?(?:access)?[-_]?key)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|"
            ":=|=>| +|::)(?: *)(?:\"|\\'|)([a-f0-9]{48}(?![a-f0-9]))(?:\"|\\'|)"
        ),
        re.IGNORECASE,
    ),
    ("json-web-token", "a JSON Web Token", "eyJ[A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+\\.?[A-Za-z0-9-_.+/=]*?", 0),
    ("mailchimp-access-key", "a Mailchimp Access Key", "[0-9a-z]{32}-us[0-9]{1,2}", 0),
    ("npm-tokens", "a NPM tokens", "\\/\\/.+\\/:_authToken=\\s*((npm_.+)|([A-Fa-f0-9-]{36})).*", 0),
    ("openai-token", "a OpenAI Token", "sk-[A-Za-z0-9-_]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}", 0),
    ("private-key", "a Private Key", "BEGIN DSA PRIVATE KEY", 0),
    ("private-key", "a Private Key", "BEGIN EC PRIVATE KEY", 0),
    ("private-key", "a Private Key", "BEGIN OPENSSH PRIVATE KEY", 0),
    ("private-key", "a Private Key", "BEGIN PGP PRIVATE KEY BLOCK", 0),
    ("private-key", "a Private Key", "BEGIN PRIVATE KEY", 0),
    ("private-key", "a Private Key", "BEGIN RSA PRIVATE KEY", 0),
    ("private-key", "a Private Key", "BEGIN SSH2 ENCRYPTED PRIVATE KEY", 0),
    ("private-key", "a Private Key", "PuTTY-User-Key-File-2", 0),
    ("pypi-token", "a PyPI Token", "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9-_]{70,}", 0),
    ("pypi-token", "a PyPI Token", "pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9-_]{70,}", 0),
    ("sendgrid-api-key", "a SendGrid API Key", "SG\\.[a-zA-Z0-9_-]{22}\\.[a-zA-Z0-9_-]{43}", 0),
    ("slack-token", "a Slack Token", "xox(?:a|b|p|o|s|r)-(?:\\d+-)+[a-z0-9]+", re.IGNORECASE),
    (
        "slack-token",
        "a Slack Token",
        ("https://hooks\\.slack\\.com/services/T[a-zA-Z0-9_]+/B[a-zA-Z0-9_]+/[a-zA-Z0-9_]+"),
        re.IGNORECASE | re.VERBOSE,
    ),
    (
        "softlayer-credentials",
        "a SoftLayer Credentials",
        (
            "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:softlayer|sl)(?:_|-|)(?:api|)(?:_"
            "|-|)(?:key|pwd|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>|"
            " +|::)(?: *)(?:\"|\\'|)([a-z0-9]{64})(?:\"|\\'|)"
        ),
        re.IGNORECASE,
    ),
    (
        "softlayer-credentials",
        "a SoftLayer Credentials",
        "(?:http|https)://api.softlayer.com/soap/(?:v3|v3.1)/([a-z0-9]{64})",
        re.IGNORECASE,
    ),
    ("square-oauth-secret", "a Square OAuth Secret", "sq0csp-[0-9A-Za-z\\\\\\-_]{43}", 0),
    ("stripe-access-key", "a Stripe Access Key", "(?:r|s)k_live_[0-9a-zA-Z]{24}", 0),
    ("telegram-bot-token", "a Telegram Bot Token", "\\d{8,10}:[0-9A-Za-z_-]{35}", 0),
    ("twilio-api-key", "a Twilio API Key", "AC[a-z0-9]{32}", 0),
    ("twilio-api-key", "a Twilio API Key", "SK[a-z0-9]{32}", 0),
)


Format = tuple[str, str, str, int]  # (name, label, pattern, re flags)


@functools.lru_cache(maxsize=1)
def library_formats() -> tuple[Format, ...]:
    """The library's regex detectors (uncompiled): the table for its version `VERSION`, read from the library
    for any other, () when it is not installed."""
    version = installed_version()
    if version is None:
        return ()
    return DETECTORS if version == VERSION else from_library()


def installed_version() -> str | None:
    """The installed detect-secrets' version, read from its `__version__.py` without importing the package
    ("" when that file names none); None when it is not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("detect_secrets")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for directory in spec.submodule_search_locations or ():
        try:
            text = Path(directory, "__version__.py").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"""^VERSION\s*=\s*['"]([^'"]+)['"]""", text, re.MULTILINE)
        return found.group(1) if found else ""
    return ""


def from_library() -> tuple[Format, ...]:
    """Every regex detector of the installed library but the `SKIPPED` ones, imported, in name order: what
    `DETECTORS` holds for `VERSION`. () when the library is not installed."""
    import importlib
    import pkgutil

    try:
        import detect_secrets.plugins as plugins
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:
        return ()
    found: dict[str, Format] = {}
    for info in pkgutil.iter_modules(plugins.__path__):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        for cls in vars(module).values():
            if (
                isinstance(cls, type)
                and issubclass(cls, RegexBasedDetector)
                and cls is not RegexBasedDetector
                and cls.__name__ not in SKIPPED
            ):
                for n, pattern in enumerate(cls().denylist):
                    name = re.sub(r"[^a-z0-9]+", "-", str(cls.secret_type).lower()).strip("-")
                    found[f"{name}-{n}"] = (name, f"a {cls.secret_type}", pattern.pattern, pattern.flags)
    return tuple(found[k] for k in sorted(found))
