"""Settings: shipped defaults, environment overrides and one-line errors naming the bad key."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, SmtpTarget, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database.dialect == "sqlite"
    assert settings.database.path == "var/vote.sqlite3"
    assert settings.redis_url == ""
    assert settings.login_rate == 10
    assert settings.cookie_secure is False
    assert settings.default_timezone == "Asia/Shanghai"
    assert settings.public_url == "http://127.0.0.1:9000"
    assert settings.trusted_proxies == (ipaddress.ip_network("127.0.0.1/32"),)
    # The development secret is generated once and then reused.
    assert len(settings.secret_key) >= 32
    assert load_settings(environ={}).secret_key == settings.secret_key


def test_environment_overrides_every_key() -> None:
    settings = load_settings(
        environ={
            "VOTE_DATABASE_URL": "mysql://vote:p%40ss@db.example:3307/polls",
            "VOTE_REDIS_URL": "redis://cache:6380/2",
            "VOTE_SECRET_KEY": "s3cret",
            "VOTE_COOKIE_SECURE": "1",
            "VOTE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/24",
            "VOTE_LOGIN_RATE": "3",
            "VOTE_DEFAULT_TIMEZONE": "America/Sao_Paulo",
            "VOTE_PUBLIC_URL": "https://vote.example.com/",
        }
    )
    target = settings.database
    assert (target.dialect, target.host, target.port, target.user, target.password, target.name) == (
        "mysql",
        "db.example",
        3307,
        "vote",
        "p@ss",
        "polls",
    )
    assert settings.cookie_secure is True
    assert settings.login_rate == 3
    assert settings.default_timezone == "America/Sao_Paulo"
    assert settings.public_url == "https://vote.example.com"  # links append paths that start with /
    assert ipaddress.ip_network("192.168.0.0/24") in settings.trusted_proxies


def test_redis_sentinel_url() -> None:
    url = "redis+sentinel://:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26382/vote/3"
    settings = load_settings(environ={"VOTE_REDIS_URL": url, "VOTE_SECRET_KEY": "x"})
    target = settings.redis_sentinel
    assert target is not None
    assert target.sentinels == (("10.0.0.1", 26380), ("sentinel-b", 26379), ("::1", 26382))
    assert (target.service, target.db, target.password) == ("vote", 3, "p@ss")
    bare = load_settings(environ={"VOTE_REDIS_URL": "redis+sentinel://s:1/vote", "VOTE_SECRET_KEY": "x"})
    assert bare.redis_sentinel is not None and bare.redis_sentinel.db == 0
    plain = load_settings(environ={"VOTE_REDIS_URL": "redis://cache:6380/2", "VOTE_SECRET_KEY": "x"})
    assert plain.redis_sentinel is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"VOTE_DATABASE_URL": "postgres://localhost/x"}, "VOTE_DATABASE_URL"),
        ({"VOTE_DATABASE_URL": "mysql://root@localhost:notaport/x"}, "VOTE_DATABASE_URL"),
        ({"VOTE_DATABASE_URL": "mysql://root@localhost:3306/"}, "VOTE_DATABASE_URL"),
        ({"VOTE_REDIS_URL": "http://localhost"}, "VOTE_REDIS_URL"),
        ({"VOTE_REDIS_URL": "redis+sentinel://s1:26379,s2:port/vote/0"}, "VOTE_REDIS_URL"),
        ({"VOTE_REDIS_URL": "redis+sentinel://s1:26379,,s2:26379/vote/0"}, "VOTE_REDIS_URL"),
        ({"VOTE_REDIS_URL": "redis+sentinel://s1:26379/"}, "VOTE_REDIS_URL"),
        ({"VOTE_REDIS_URL": "redis+sentinel://s1:26379/vote/one"}, "VOTE_REDIS_URL"),
        ({"VOTE_REDIS_URL": "redis+sentinel://s1:26379/vote/0/extra"}, "VOTE_REDIS_URL"),
        ({"VOTE_LOGIN_RATE": "lots"}, "VOTE_LOGIN_RATE"),
        ({"VOTE_LOGIN_RATE": "0"}, "VOTE_LOGIN_RATE"),
        ({"VOTE_COOKIE_SECURE": "maybe"}, "VOTE_COOKIE_SECURE"),
        ({"VOTE_TRUSTED_PROXIES": "10.0.0.1,not-an-ip"}, "VOTE_TRUSTED_PROXIES"),
        ({"VOTE_WECHAT_AES_KEY": "short"}, "VOTE_WECHAT_AES_KEY"),
        ({"VOTE_DEFAULT_TIMEZONE": "Asia/Beijing"}, "VOTE_DEFAULT_TIMEZONE"),
        ({"VOTE_DEFAULT_TIMEZONE": "../../etc/passwd"}, "VOTE_DEFAULT_TIMEZONE"),
        ({"VOTE_DEFAULT_TIMEZONE": ""}, "VOTE_DEFAULT_TIMEZONE"),
        ({"VOTE_PUBLIC_URL": "vote.example.com"}, "VOTE_PUBLIC_URL"),
        ({"VOTE_PUBLIC_URL": "ftp://vote.example.com"}, "VOTE_PUBLIC_URL"),
        ({"VOTE_PUBLIC_URL": "https://vote.example.com/?x=1"}, "VOTE_PUBLIC_URL"),
        ({"VOTE_DATABASE_URL": "mysql://root@localhost/x"}, "VOTE_SECRET_KEY"),
        ({"VOTE_SMTP_URL": "mail.example.com"}, "VOTE_SMTP_URL"),
        ({"VOTE_SMTP_URL": "smtp://mail.example.com:port"}, "VOTE_SMTP_URL"),
        ({"VOTE_SMTP_URL": "smtp://mail.example.com?tls=1"}, "VOTE_SMTP_URL"),
        ({"VOTE_SMTP_URL": "smtp://mail.example.com?starttls=yes"}, "VOTE_SMTP_URL"),
        ({"VOTE_MAIL_FROM": "nobody"}, "VOTE_MAIL_FROM"),
        ({"VOTE_SMTP_CA_FILE": "/no/such/ca.pem"}, "VOTE_SMTP_CA_FILE"),
        ({"VOTE_RESET_RATE_ACCOUNT": "0"}, "VOTE_RESET_RATE_ACCOUNT"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env)
    message = str(caught.value)
    assert message.startswith(named + ":")
    assert "\n" not in message


def test_a_file_of_ones_own_keeps_the_shipped_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    own = tmp_path / "own.yaml"
    own.write_text("public_url: https://vote.example.com\nlogin_rate: 5\n")
    settings = load_settings(own, environ={})
    assert (settings.public_url, settings.login_rate) == ("https://vote.example.com", 5)
    assert settings.database.dialect == "sqlite" and settings.default_timezone == "Asia/Shanghai"
    assert [str(network) for network in settings.trusted_proxies] == ["127.0.0.1/32"]
    own.write_text("login_rate: -1\n")
    with pytest.raises(ConfigError, match=r"^login_rate in .*own.yaml: "):  # still named where it was set
        load_settings(own, environ={})


def test_bad_yaml_file(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("database_url: sqlite:///x.db\ndatabse_timeout: 3\n")
    with pytest.raises(ConfigError, match=r"^databse_timeout in .*unknown.yaml: unknown setting$"):
        load_settings(unknown, environ={"VOTE_SECRET_KEY": "x"})

    broken = tmp_path / "broken.yaml"
    broken.write_text("database_url: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken, environ={})

    with pytest.raises(ConfigError, match="No such file"):
        load_settings(tmp_path / "missing.yaml", environ={})


def test_cli_reports_a_bad_setting_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "main.py", "migrate"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VOTE_DATABASE_URL": "mysql://root@127.0.0.1:99999/x", "VOTE_SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "VOTE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://relay.example.com", SmtpTarget("relay.example.com", 25)),
        (
            "smtp://u%40x:p%3Aw@relay.example.com:587?starttls=1",
            SmtpTarget("relay.example.com", 587, "u@x", "p:w", starttls=True),
        ),
        ("smtps://u:p@relay.example.com", SmtpTarget("relay.example.com", 465, "u", "p", tls=True)),
    ],
)
def test_smtp_urls_are_read(url: str, target: SmtpTarget) -> None:
    assert load_settings(environ={"VOTE_SMTP_URL": url, "VOTE_SECRET_KEY": "x"}).smtp == target
