import logging

import pytest

from cloudinit_maaslike.dsconfig import source_config
from cloudinit_maaslike.errors import ConfigError

MAAS = {"metadata_url": "http://m:5248/MAAS/metadata/curtin", "consumer_key": "C",
        "token_key": "T", "token_secret": "S"}


def test_maas_section_alone_works_like_a_real_preseed():
    cfg = source_config({"datasource": {"MAAS": MAAS}})
    assert cfg.metadata_url == MAAS["metadata_url"]
    assert cfg.credentials.token_secret == "S" and cfg.origin == "datasource.MAAS"
    assert cfg.timeout == 10 and cfg.max_wait == 120 and cfg.retries is None


def test_maaslike_tunables_apply_over_a_maas_endpoint():
    cfg = source_config({"datasource": {"MAAS": {**MAAS, "timeout": 50},
                                        "MAASLike": {"timeout": 3, "max_wait": 20, "retries": 4}}})
    assert cfg.metadata_url == MAAS["metadata_url"] and cfg.credentials.consumer_key == "C"
    assert (cfg.timeout, cfg.max_wait, cfg.retries) == (3, 20, 4)


def test_maaslike_endpoint_wins_and_credentials_are_never_mixed():
    cfg = source_config({"datasource": {"MAAS": MAAS,
                                        "MAASLike": {"metadata_url": "http://other/"}}})
    assert cfg.metadata_url == "http://other/" and cfg.credentials is None
    assert cfg.origin == "datasource.MAASLike"


def test_unset_everything_is_not_an_error():
    cfg = source_config({})
    assert cfg.metadata_url is None and cfg.credentials is None


@pytest.mark.parametrize("section,path", [
    ({"timeout": "soon"}, "datasource.MAASLike.timeout"),
    ({"timeout": 0}, "datasource.MAASLike.timeout"),
    ({"max_wait": [1]}, "datasource.MAASLike.max_wait"),
    ({"retries": -1}, "datasource.MAASLike.retries"),
    ({"retries": True}, "datasource.MAASLike.retries"),
    ({"seed_dir": 5}, "datasource.MAASLike.seed_dir"),
    ({"metadata_url": "ftp://x/"}, "datasource.MAASLike.metadata_url"),
    ({"metadata_url": "http://x/", "consumer_key": "C"}, "datasource.MAASLike.token_key"),
])
def test_bad_values_name_their_key(section, path):
    with pytest.raises(ConfigError) as info:
        source_config({"datasource": {"MAASLike": section}}, where="/etc/cloud/cloud.cfg.d/x.cfg")
    assert info.value.path == path
    assert str(info.value).startswith("/etc/cloud/cloud.cfg.d/x.cfg: " + path)


def test_unknown_keys_are_warned_with_their_path(caplog):
    with caplog.at_level(logging.WARNING):
        source_config({"datasource": {"MAASLike": {"timeuot": 3}}})
    assert "datasource.MAASLike.timeuot: unknown key" in caplog.text
