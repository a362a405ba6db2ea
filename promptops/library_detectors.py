# ruff: noqa: E501  (the library's patterns, which cannot be wrapped)
"""The regex detectors of `detect-secrets`, recorded from the version named here (see
`redaction.secret_detectors`, which uses them only when that version is the one installed).

Data only, generated from the library: tests/test_redaction.py holds it equal to what the installed library
gives, and writes the table afresh when they differ.
"""

DETECT_SECRETS_VERSION = "1.5.0"

# (name, label, pattern, re flags), in the order redaction.library_detectors gives them
DETECTORS: tuple[tuple[str, str, str, int], ...] = (
    ("aws-access-key", "a AWS Access Key", "(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}", 32),
    (
        "aws-access-key",
        "a AWS Access Key",
        "aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?[\\'\\\"]([0-9a-zA-Z/+]{40})[\\'\\\"]",
        34,
    ),
    ("azure-storage-account-access-key", "a Azure Storage Account access key", "AccountKey=[a-zA-Z0-9+\\/=]{88}", 32),
    (
        "basic-auth-credentials",
        "a Basic Auth Credentials",
        "://[^:/\\?\\#\\[\\]@!\\$\\&'\\(\\)\\*\\+,;=\\s]+:([^:/\\?\\#\\[\\]@!\\$\\&'\\(\\)\\*\\+,;=\\s]+)@",
        32,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([0-9a-f]{64})(?:\"|\\'|)",
        34,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-z]{24})(?:\"|\\'|)",
        34,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:https?\\:\\/\\/)[\\w\\-]+\\:([0-9a-f]{64})\\@[\\w\\-]+\\.cloudant\\.com",
        34,
    ),
    (
        "cloudant-credentials",
        "a Cloudant Credentials",
        "(?:https?\\:\\/\\/)[\\w\\-]+\\:([a-z]{24})\\@[\\w\\-]+\\.cloudant\\.com",
        34,
    ),
    (
        "discord-bot-token",
        "a Discord Bot Token",
        "[MNO][a-zA-Z\\d_-]{23,25}\\.[a-zA-Z\\d_-]{6}\\.[a-zA-Z\\d_-]{27}",
        32,
    ),
    ("github-token", "a GitHub Token", "(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}", 32),
    ("gitlab-token", "a GitLab Token", "(glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\\-]{20,50}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "GR1348941[A-Za-z0-9_\\-]{20,50}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "glcbt-([0-9a-fA-F]{2}_)?[A-Za-z0-9_\\-]{20,50}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "glimt-[A-Za-z0-9_\\-]{25}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "glptt-[A-Za-z0-9_\\-]{40}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "glagent-[A-Za-z0-9_\\-]{50,1024}(?!\\w)", 32),
    ("gitlab-token", "a GitLab Token", "gloas-[A-Za-z0-9_\\-]{64}(?!\\w)", 32),
    (
        "ibm-cloud-iam-key",
        "a IBM Cloud IAM Key",
        "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:ibm(?:_|-|)cloud(?:_|-|)iam|cloud(?:_|-|)iam|ibm(?:_|-|)cloud|ibm(?:_|-|)iam|ibm|iam|cloud|)(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-zA-Z0-9_\\-]{44}(?![a-zA-Z0-9_\\-]))(?:\"|\\'|)",
        34,
    ),
    (
        "ibm-cos-hmac-credentials",
        "a IBM COS HMAC Credentials",
        "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:(?:ibm)?[-_]?cos[-_]?(?:hmac)?|)(?:_|-|)(?:secret[-_]?(?:access)?[-_]?key)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-f0-9]{48}(?![a-f0-9]))(?:\"|\\'|)",
        34,
    ),
    ("json-web-token", "a JSON Web Token", "eyJ[A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+\\.?[A-Za-z0-9-_.+/=]*?", 32),
    ("mailchimp-access-key", "a Mailchimp Access Key", "[0-9a-z]{32}-us[0-9]{1,2}", 32),
    ("npm-tokens", "a NPM tokens", "\\/\\/.+\\/:_authToken=\\s*((npm_.+)|([A-Fa-f0-9-]{36})).*", 32),
    ("openai-token", "a OpenAI Token", "sk-[A-Za-z0-9-_]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}", 32),
    ("private-key", "a Private Key", "BEGIN DSA PRIVATE KEY", 32),
    ("private-key", "a Private Key", "BEGIN EC PRIVATE KEY", 32),
    ("private-key", "a Private Key", "BEGIN OPENSSH PRIVATE KEY", 32),
    ("private-key", "a Private Key", "BEGIN PGP PRIVATE KEY BLOCK", 32),
    ("private-key", "a Private Key", "BEGIN PRIVATE KEY", 32),
    ("private-key", "a Private Key", "BEGIN RSA PRIVATE KEY", 32),
    ("private-key", "a Private Key", "BEGIN SSH2 ENCRYPTED PRIVATE KEY", 32),
    ("private-key", "a Private Key", "PuTTY-User-Key-File-2", 32),
    ("pypi-token", "a PyPI Token", "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9-_]{70,}", 32),
    ("pypi-token", "a PyPI Token", "pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9-_]{70,}", 32),
    ("sendgrid-api-key", "a SendGrid API Key", "SG\\.[a-zA-Z0-9_-]{22}\\.[a-zA-Z0-9_-]{43}", 32),
    ("slack-token", "a Slack Token", "xox(?:a|b|p|o|s|r)-(?:\\d+-)+[a-z0-9]+", 34),
    (
        "slack-token",
        "a Slack Token",
        "https://hooks\\.slack\\.com/services/T[a-zA-Z0-9_]+/B[a-zA-Z0-9_]+/[a-zA-Z0-9_]+",
        98,
    ),
    (
        "softlayer-credentials",
        "a SoftLayer Credentials",
        "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:softlayer|sl)(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-z0-9]{64})(?:\"|\\'|)",
        34,
    ),
    (
        "softlayer-credentials",
        "a SoftLayer Credentials",
        "(?:http|https)://api.softlayer.com/soap/(?:v3|v3.1)/([a-z0-9]{64})",
        34,
    ),
    ("square-oauth-secret", "a Square OAuth Secret", "sq0csp-[0-9A-Za-z\\\\\\-_]{43}", 32),
    ("stripe-access-key", "a Stripe Access Key", "(?:r|s)k_live_[0-9a-zA-Z]{24}", 32),
    ("telegram-bot-token", "a Telegram Bot Token", "\\d{8,10}:[0-9A-Za-z_-]{35}", 32),
    ("twilio-api-key", "a Twilio API Key", "AC[a-z0-9]{32}", 32),
    ("twilio-api-key", "a Twilio API Key", "SK[a-z0-9]{32}", 32),
)
