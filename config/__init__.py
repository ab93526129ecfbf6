"""Settings: one YAML file, overridden key by key from VOTE_* environment variables.

Everything is validated here, once, at start-up; the rest of the code reads a
frozen ``Settings`` object and never looks at the environment itself.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.clock import zone_named

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")
ENV_PREFIX = "VOTE_"
SECRET_FILE = Path("var/secret_key")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


@dataclass(frozen=True)
class DatabaseTarget:
    dialect: Literal["sqlite", "mysql"]
    path: str = ""
    host: str = ""
    port: int = 3306
    user: str = ""
    password: str = ""
    name: str = ""


def parse_database_url(url: str) -> DatabaseTarget:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ValueError("expected sqlite:///PATH")
        return DatabaseTarget(dialect="sqlite", path=path)
    if parts.scheme == "mysql":
        name = parts.path.lstrip("/")
        try:
            port = parts.port or 3306
        except ValueError:
            raise ValueError("port is not a number") from None
        if not parts.hostname or not name or "/" in name:
            raise ValueError("expected mysql://user:password@host:port/database")
        return DatabaseTarget(
            dialect="mysql",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            name=name,
        )
    raise ValueError(f"unsupported scheme {parts.scheme!r}; use sqlite:///PATH or mysql://user:password@host:port/db")


SENTINEL_SCHEME = "redis+sentinel://"
SENTINEL_FORM = "redis+sentinel://host:port,host:port/SERVICE/db"
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    """Redis behind Sentinel: ask these Sentinels which server is the primary of ``service``."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str = ""
    password: str = ""  # of the Redis servers; the Sentinels themselves are asked without one


def parse_sentinel_url(url: str) -> SentinelTarget:
    """redis+sentinel://[user:password@]host:port,host:port/SERVICE/db (db optional, 0)."""
    credentials, _, rest = url.removeprefix(SENTINEL_SCHEME).rpartition("@")
    hosts, _, path = rest.partition("/")
    service, _, db = path.partition("/")
    sentinels = []
    for item in hosts.split(","):
        parts = urlsplit("//" + item)
        try:
            port = parts.port or SENTINEL_PORT
        except ValueError:
            raise ValueError(f"Sentinel port in {item!r} is not a valid port; expected {SENTINEL_FORM}") from None
        if not parts.hostname:
            raise ValueError(f"a Sentinel address is empty; expected {SENTINEL_FORM}")
        sentinels.append((parts.hostname, port))
    if not service or "/" in db or not (db or "0").isdigit():
        raise ValueError(f"expected {SENTINEL_FORM} (the service name, then an optional database number)")
    username, _, password = credentials.partition(":")
    return SentinelTarget(tuple(sentinels), service, int(db or 0), unquote(username), unquote(password))


SMTP_FORM = "smtp://user:password@host:port (smtps:// for TLS, ?starttls=1 to upgrade a plain connection)"


@dataclass(frozen=True)
class SmtpTarget:
    """Where mail goes: ``tls`` from the first byte (smtps://, port 465), or ``starttls`` after
    connecting; a login when ``username`` is set."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    tls: bool = False
    starttls: bool = False


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"expected {SMTP_FORM}, or empty to write mails under var/mail/")
    options = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
    if set(options) - {"starttls"} or options.get("starttls", "0") not in ("0", "1"):
        raise ValueError("the only option is ?starttls=1")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ValueError("port is not a number") from None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        tls=parts.scheme == "smtps",
        starttls=options.get("starttls") == "1",
    )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str
    redis_url: str = ""
    redis_prefix: str = Field(default="vote:", max_length=64)
    secret_key: str = ""
    default_timezone: str = "Asia/Shanghai"
    public_url: str = "http://127.0.0.1:9000"
    cookie_secure: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    wechat_token: str = ""
    wechat_appid: str = ""
    wechat_aes_key: str = ""
    login_rate: int = Field(default=10, ge=1, le=10_000)
    link_votes_per_ip: int = Field(default=200, ge=1, le=1_000_000)
    smtp_url: str = ""
    mail_from: str = Field(default="vote@localhost", min_length=3, max_length=254)
    mail_dir: str = "var/mail"
    smtp_timeout: float = Field(default=10.0, gt=0, le=300)
    smtp_ca_file: str = ""
    mail_retry_delay: float = Field(default=2.0, gt=0, le=3600)
    mail_retry_max_delay: float = Field(default=300.0, gt=0, le=86_400)
    mail_retry_attempts: int = Field(default=12, ge=1, le=1000)
    reset_rate_account: int = Field(default=3, ge=1, le=10_000)
    reset_rate_address: int = Field(default=20, ge=1, le=100_000)
    session_idle_seconds: int = Field(default=1_209_600, ge=60)
    session_absolute_seconds: int = Field(default=2_592_000, ge=60)
    db_pool_min: int = Field(default=1, ge=0, le=100)
    db_pool_max: int = Field(default=10, ge=1, le=200)
    db_pool_recycle: int = Field(default=3600, ge=-1)
    db_connect_timeout: float = Field(default=2.0, gt=0, le=60)
    db_acquire_timeout: float = Field(default=2.0, gt=0, le=60)
    db_query_timeout: float = Field(default=3.0, gt=0, le=300)
    redis_timeout: float = Field(default=2.0, gt=0, le=60)
    shutdown_timeout: float = Field(default=10.0, ge=0, le=300)
    access_log: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        parse_database_url(value)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value.startswith(SENTINEL_SCHEME):
            parse_sentinel_url(value)
        elif value:
            parts = urlsplit(value)
            if parts.scheme not in ("redis", "rediss") or not parts.hostname:
                raise ValueError(f"expected redis://host:port/db, {SENTINEL_FORM} or empty for the embedded default")
            try:
                parts.port  # noqa: B018 - raises on a malformed port
                int(parts.path.lstrip("/") or 0)
            except ValueError:
                raise ValueError("port and database number must be integers") from None
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str) -> str:
        if value:
            parse_smtp_url(value)
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _check_ca_file(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("mail_from")
    @classmethod
    def _check_mail_from(cls, value: str) -> str:
        if "@" not in value or any(char in value for char in "\r\n<>"):
            raise ValueError("expected an address such as vote@example.com")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        if zone_named(value) is None:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai or UTC")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("expected the site's address, such as https://vote.example.com (no query)")
        return value.rstrip("/")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list | tuple):
            return tuple(ipaddress.ip_network(str(item), strict=False) for item in value)
        return value

    @field_validator("wechat_aes_key")
    @classmethod
    def _check_aes_key(cls, value: str) -> str:
        if value and len(value) != 43:
            raise ValueError("an EncodingAESKey is 43 characters long")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("db_pool_min is larger than db_pool_max")
        if self.session_idle_seconds > self.session_absolute_seconds:
            raise ValueError("session_idle_seconds is larger than session_absolute_seconds")
        return self

    @cached_property
    def database(self) -> DatabaseTarget:
        return parse_database_url(self.database_url)

    @cached_property
    def redis_sentinel(self) -> SentinelTarget | None:
        """Where to find the Redis primary when it is Sentinel-managed; None for a plain redis:// URL."""
        return parse_sentinel_url(self.redis_url) if self.redis_url.startswith(SENTINEL_SCHEME) else None

    @cached_property
    def smtp(self) -> SmtpTarget | None:
        """The mail server, or None: mails are written as files under ``mail_dir``."""
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @property
    def embedded(self) -> bool:
        """True on the newcomer's default: SQLite file and no Redis."""
        return self.database.dialect == "sqlite" and not self.redis_url


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file {path}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of key: value")
    return data


def _dev_secret() -> str:
    """A development secret generated once, so sessions survive restarts."""
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text(encoding="utf-8").strip()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    SECRET_FILE.write_text(secret + "\n", encoding="utf-8")
    SECRET_FILE.chmod(0o600)
    return secret


def load_settings(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the YAML file, apply VOTE_* overrides and validate; ConfigError names the bad key."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(path or environ.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG)
    # A file of one's own needs only the keys it changes: the others keep the shipped defaults.
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source in dict.fromkeys([DEFAULT_CONFIG, path]):
        read = _read_yaml(source)
        values.update(read)
        origin.update({key: f"{key} in {source}" for key in read})
    for key in Settings.model_fields:
        env_name = ENV_PREFIX + key.upper()
        if env_name in environ:
            values[key] = environ[env_name]
            origin[key] = env_name
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        where = origin.get(key, key or str(path))
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        raise ConfigError(f"{where}: {message}") from None
    if not settings.secret_key:
        if not settings.embedded:
            raise ConfigError(f"{ENV_PREFIX}SECRET_KEY: required when MySQL or Redis is used")
        settings = settings.model_copy(update={"secret_key": _dev_secret()})
    return settings
