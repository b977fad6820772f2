"""Settings from the environment (LMS_*), with safe defaults for the embedded mode."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

# The checkout: templates, static files, migrations, the demo courses and instance/ live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

MB = 1024 * 1024
# Upload limits per kind of file, in bytes: the one place they are set. Forms show them in their
# hints, the upload checks enforce them and the 413 page names them (lms.courses.uploads reads
# them through the app's LMS_UPLOAD_LIMITS). image: lesson illustrations (phones on 4G);
# document: a PDF handout; video: a 10–15 minute training clip at 720p.
UPLOAD_LIMITS = {"image": 5 * MB, "document": 20 * MB, "video": 200 * MB}
# Room for the other form fields and the multipart framing of a maximal upload.
FORM_OVERHEAD = 1 * MB
# The body limit of pages that take no upload of their own declaration (lms.core.web.upload_limit):
# CSV/Excel imports, certificate images and every ordinary form.
FORM_MAX_BYTES = 16 * MB


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    """Return LMS_SECRET_KEY, or a key generated once into the instance folder."""
    if key := os.environ.get("LMS_SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping for this process."""
    db_url = os.environ.get("LMS_DATABASE_URL") or f"sqlite:///{instance_path / 'lms.sqlite3'}"
    redis_url = os.environ.get("LMS_REDIS_URL")
    https = _bool("LMS_HTTPS", False)
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        # A PostgreSQL host that drops packets fails a connection in 5 s, not the OS's minutes.
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            **({"connect_args": {"connect_timeout": 5}} if db_url.startswith("postgres") else {}),
        },
        # Reports (dashboards, drill-downs, course analytics) may read from a PostgreSQL replica.
        "SQLALCHEMY_BINDS": (
            {"reports": os.environ["LMS_REPORTS_DATABASE_URL"]}
            if os.environ.get("LMS_REPORTS_DATABASE_URL")
            else {}
        ),
        "LMS_REDIS_URL": redis_url,
        # Cookies: HttpOnly and SameSite always, Secure when served over HTTPS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_NAME": "lms_session",
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        # A session that is not "remembered" ends after this much idle time.
        "LMS_SESSION_IDLE": timedelta(hours=int(os.environ.get("LMS_SESSION_IDLE_HOURS", "12"))),
        # Remember-me: at most 14 days.
        "PERMANENT_SESSION_LIFETIME": timedelta(
            days=min(14, int(os.environ.get("LMS_REMEMBER_DAYS", "14")))
        ),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("LMS_TIMEZONE", "Asia/Shanghai"),
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "LMS_LOCALES": ["zh_CN", "en"],
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: the limits go on in this process's memory (sign-in and /verify keep
        # working, each process counting for itself) until Redis answers again; a storage
        # error is logged, never a 500. Short timeouts: a Redis that hangs costs a second.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {}
        ),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LMS_LOGIN_RATE_LIMIT": os.environ.get(
            "LMS_LOGIN_RATE_LIMIT", "20 per minute; 200 per hour"
        ),
        "LMS_LOCKOUT_THRESHOLD": 5,
        "LMS_LOCKOUT_MINUTES": 15,
        # "standard": length >= 10 and not common; "mlps": also 3 of 4 character classes and
        # a 90-day rotation (等保 MLPS 2.0 practice).
        "LMS_PASSWORD_POLICY": os.environ.get("LMS_PASSWORD_POLICY", "standard"),
        "LMS_INVITATION_DAYS": int(os.environ.get("LMS_INVITATION_DAYS", "7")),
        "LMS_PAGE_SIZE": 25,
        # The largest request body of all: the largest legitimate upload with its form. Pages
        # that declare no upload of their own get LMS_FORM_MAX_BYTES (lms.core.web).
        "LMS_UPLOAD_LIMITS": dict(UPLOAD_LIMITS),
        "LMS_FORM_MAX_BYTES": FORM_MAX_BYTES,
        "MAX_CONTENT_LENGTH": max(UPLOAD_LIMITS.values()) + FORM_OVERHEAD,
        "LMS_IMPORT_MAX_ROWS": 5000,
        # Exports with more rows than this run as a background job with an expiring link.
        "LMS_EXPORT_INLINE_ROWS": int(os.environ.get("LMS_EXPORT_INLINE_ROWS", "5000")),
        # The public address printed on certificates (QR codes); else the request's own host.
        "LMS_BASE_URL": (os.environ.get("LMS_BASE_URL") or "").rstrip("/") or None,
        "LMS_STORAGE_DIR": os.environ.get("LMS_STORAGE_DIR") or str(instance_path / "storage"),
        # Files in an S3-compatible object store instead (lms.core.storage) when a bucket is set;
        # without the two keys boto3 reads the standard AWS_* variables.
        "LMS_S3_BUCKET": os.environ.get("LMS_S3_BUCKET") or None,
        "LMS_S3_ENDPOINT_URL": os.environ.get("LMS_S3_ENDPOINT_URL") or None,
        "LMS_S3_REGION": os.environ.get("LMS_S3_REGION") or None,
        "LMS_S3_ACCESS_KEY_ID": os.environ.get("LMS_S3_ACCESS_KEY_ID") or None,
        "LMS_S3_SECRET_ACCESS_KEY": os.environ.get("LMS_S3_SECRET_ACCESS_KEY") or None,
        "LMS_S3_PREFIX": os.environ.get("LMS_S3_PREFIX") or "",
        # The consortia's certificate-signing keys (one PEM file each, made on first use).
        "LMS_SIGNING_KEY_DIR": os.environ.get("LMS_SIGNING_KEY_DIR") or str(instance_path / "keys"),
        # E-mail of notifications: smtp://user:password@host:587 (STARTTLS) or smtps://…:465;
        # unset, notifications are shown in the app only.
        "LMS_SMTP_URL": os.environ.get("LMS_SMTP_URL") or None,
        "LMS_MAIL_FROM": os.environ.get("LMS_MAIL_FROM") or "lms@localhost",
    }
