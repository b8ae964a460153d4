"""`maaslike crawl` as a user runs it: a process, JSON out, one line on failure."""

import json
import os
import stat
import subprocess
import sys

import yaml

from .servers import start_maas


def run(cmd, *args, env=None, timeout=60):
    environ = dict(os.environ)
    environ.update(env or {})
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=environ, timeout=timeout)


def creds_args(maas):
    c = maas.creds()
    return ["--consumer-key", c.consumer_key, "--token-key", c.token_key, "--token-secret", c.token_secret]


def test_crawl_prints_one_json_object(maas, maaslike_cmd, tmp_path):
    done = run(maaslike_cmd, "crawl", "--metadata-url", maas.metadata_url(), *creds_args(maas),
               "--skew-file", str(tmp_path / "skew.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["instance-id"] == "abc123" and report["local-hostname"] == "node1.lab"
    assert report["public-keys"] == ["ssh-ed25519 AAAAC3Nza-one one@lab", "ssh-rsa AAAAB3Nza-two two@lab"]
    assert len(report["user-data-sha256"]) == 64 and report["requests"] == 5
    assert report["seconds"] < 5 and done.stderr == ""


def test_output_writes_a_private_seed_that_replays(maas, maaslike_cmd, tmp_path):
    out = tmp_path / "seed"
    done = run(maaslike_cmd, "crawl", "--metadata-url", maas.metadata_url(), *creds_args(maas),
               "--output", str(out), "--skew-file", str(tmp_path / "skew.json"))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for name in ("meta-data/instance-id", "meta-data/local-hostname", "meta-data/public-keys",
                 "meta-data/vendor-data", "user-data"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o600, name
    assert (out / "user-data").read_bytes() == b"#cloud-config\nfinal_message: hello from abc123\n"
    replay = run(maaslike_cmd, "crawl", "--metadata-url", f"file://{out}")
    assert replay.returncode == 0, replay.stderr
    again = json.loads(replay.stdout)
    assert again["instance-id"] == "abc123" and again["requests"] == 0
    assert again["user-data-sha256"] == json.loads(done.stdout)["user-data-sha256"]


def test_config_file_with_a_maas_section(maas, maaslike_cmd, tmp_path):
    c = maas.creds()
    cfg = tmp_path / "90_dpkg_maas.cfg"
    cfg.write_text(yaml.safe_dump({"datasource": {"MAAS": {
        "metadata_url": maas.metadata_url(), "consumer_key": c.consumer_key,
        "token_key": c.token_key, "token_secret": c.token_secret}}}))
    done = run(maaslike_cmd, "crawl", "--config", str(cfg), "--skew-file", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["instance-id"] == "abc123"


def test_preseed_url_behaves_like_a_booting_node(maas, maaslike_cmd, tmp_path):
    done = run(maaslike_cmd, "crawl", "--preseed-url", maas.preseed_url(),
               "--skew-file", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["instance-id"] == "abc123"
    assert report["source"].endswith("/MAAS/metadata/curtin/2012-03-01")
    assert [e["kind"] for e in maas.events()][:1] == ["preseed"]


def test_failure_is_one_line_without_secrets(maas, maaslike_cmd, tmp_path):
    c = maas.creds()
    done = run(maaslike_cmd, "crawl", "--metadata-url", maas.metadata_url(),
               "--consumer-key", c.consumer_key, "--token-key", c.token_key,
               "--token-secret", "NOT-THE-SECRET", "--skew-file", str(tmp_path / "s.json"))
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("maaslike crawl: error: ")
    assert "HTTP 401" in lines[0] and maas.url in lines[0]
    assert "NOT-THE-SECRET" not in done.stderr and c.token_secret not in done.stderr


def test_verbose_logs_never_show_the_authorization_header(maas, maaslike_cmd, tmp_path):
    c = maas.creds()
    done = run(maaslike_cmd, "-vv", "crawl", "--metadata-url", maas.metadata_url(), *creds_args(maas),
               "--skew-file", str(tmp_path / "s.json"))
    assert done.returncode == 0
    assert "GET " in done.stderr  # the debug log is really on
    assert c.token_secret not in done.stderr and "oauth_signature" not in done.stderr


def test_bad_arguments_exit_2_with_the_key(maaslike_cmd):
    done = run(maaslike_cmd, "crawl", "--metadata-url", "http://127.0.0.1:9/", "--consumer-key", "C")
    assert done.returncode == 2
    assert "token_key" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_new_york_node_two_hours_behind(tmp_path, maaslike_cmd):
    ahead = start_maas(str(tmp_path / "state"), clock_offset=7200)
    try:
        c = ahead.creds()
        done = run(maaslike_cmd, "crawl", "--metadata-url", ahead.metadata_url(),
                   "--consumer-key", c.consumer_key, "--token-key", c.token_key,
                   "--token-secret", c.token_secret, "--skew-file", str(tmp_path / "skew.json"),
                   env={"TZ": "America/New_York"})
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert 6 <= report["requests"] <= 10 and abs(report["clock-offset-seconds"] - 7200) < 3
        saved = json.loads((tmp_path / "skew.json").read_text())
        assert stat.S_IMODE(os.stat(tmp_path / "skew.json").st_mode) == 0o600
        (entry,) = saved["servers"].values()
        assert abs(entry["offset"] - 7200) < 3
    finally:
        ahead.server.stop()


def test_console_script_and_module_entry_point(maaslike_cmd):
    script = os.path.join(os.path.dirname(sys.executable), "maaslike")
    for cmd in ([script], maaslike_cmd):
        done = run(cmd, "--version")
        assert done.returncode == 0 and done.stdout.startswith("maaslike ")


def test_output_into_a_non_empty_directory_is_one_line_and_writes_nothing(maas, maaslike_cmd, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep").write_text("x")
    done = run(maaslike_cmd, "crawl", "--metadata-url", maas.metadata_url(), *creds_args(maas),
               "--output", str(out), "--skew-file", str(tmp_path / "skew.json"))
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "is not empty" in done.stderr
    assert os.listdir(out) == ["keep"]
