import pytest

from cloudinit_maaslike.errors import PreseedError
from cloudinit_maaslike.preseed import parse_cmdline_url, parse_preseed
from cloudinit_maaslike.redact import REDACTED, redact_config, redact_text


def test_redact_text_hides_known_secrets_and_oauth_fields():
    text = 'GET x Authorization: OAuth oauth_signature="%26abc", oauth_token="T" plus abc'
    out = redact_text(text, ["abc"])
    assert "abc" not in out and 'oauth_token="T"' in out


def test_redact_config_walks_structures():
    cfg = {"datasource": {"MAAS": {"token_key": "T", "token_secret": "S"}},
           "debconf_selections": {"maas": "cloud-init cloud-init/maas-metadata-credentials string "
                                          "oauth_consumer_key=C&oauth_token_key=T&oauth_token_secret=S"},
           "list": [{"password": "p"}]}
    out = redact_config(cfg)
    assert out["datasource"]["MAAS"] == {"token_key": "T", "token_secret": REDACTED}
    assert "oauth_token_secret=S" not in out["debconf_selections"]["maas"]
    assert out["list"][0]["password"] == REDACTED
    assert cfg["datasource"]["MAAS"]["token_secret"] == "S"  # the input is untouched


@pytest.mark.parametrize("cmdline,url", [
    ("ro cloud-config-url=http://a/b?op=get_preseed ip=dhcp", "http://a/b?op=get_preseed"),
    ("url=http://legacy/ x=1", "http://legacy/"),
    ("url=http://legacy/ cloud-config-url=http://new/", "http://new/"),
    ("root=/dev/sda -- cloud-config-url=http://sandbox/", None),
    ("quiet", None),
])
def test_cmdline_url(cmdline, url):
    assert parse_cmdline_url(cmdline) == url


def test_preseed_needs_the_cloud_config_header():
    with pytest.raises(PreseedError, match="does not start with #cloud-config"):
        parse_preseed(b"#!/bin/sh\necho hi\n", "http://x/")
    assert parse_preseed(b"#cloud-config\na: 1\n", "u") == {"a": 1}
    with pytest.raises(PreseedError, match="line"):
        parse_preseed(b"#cloud-config\na: [\n", "u")
