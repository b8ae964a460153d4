"""The settings that bound transfers: where they come from, their defaults, the stall rule."""

from __future__ import annotations

import pytest

from cloudinit_maaslike.config.model import DownloadSettings
from cloudinit_maaslike.config.parse import parse_install_config
from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.dsconfig import DEFAULT_MAX_ITEM_SIZE, DEFAULT_REQUEST_DEADLINE, source_config
from cloudinit_maaslike.errors import ConfigError
from cloudinit_maaslike.metadata.fetch import size_text
from cloudinit_maaslike.sources.reader import StallWatch, rate_text

MAAS = {"metadata_url": "http://10.0.0.1:5248/MAAS/metadata/"}


def test_metadata_limits_default_to_30_s_and_64_mib():
    cfg = source_config({"datasource": {"MAAS": MAAS}})
    assert cfg.request_deadline == DEFAULT_REQUEST_DEADLINE == 30.0
    assert cfg.max_item_size == DEFAULT_MAX_ITEM_SIZE == 64 << 20


def test_metadata_limits_come_from_maaslike_then_maas():
    cfg = source_config({"datasource": {"MAAS": {**MAAS, "request_deadline": 12, "max_item_size": 1000},
                                        "MAASLike": {"request_deadline": 5}}})
    assert cfg.request_deadline == 5.0 and cfg.max_item_size == 1000


@pytest.mark.parametrize("key,value", [("request_deadline", "soon"), ("request_deadline", 0),
                                       ("max_item_size", "64M"), ("max_item_size", 0),
                                       ("max_item_size", True), ("max_item_size", 1.5)])
def test_bad_metadata_limits_name_the_key(key, value):
    with pytest.raises(ConfigError) as info:
        source_config({"datasource": {"MAASLike": {**MAAS, key: value}}}, where="/etc/cloud/x.cfg")
    assert info.value.path == f"datasource.MAASLike.{key}"


def test_download_settings_default_and_from_the_install_section():
    assert parse_install_config({"stages": []}).install.download == DownloadSettings(30.0, 16384, 2)
    cfg = parse_install_config({"stages": [], "install": {
        "download_stall_seconds": 2.5, "download_min_rate": 0, "download_stall_retries": 5}})
    assert cfg.install.download == DownloadSettings(2.5, 0, 5)


def test_the_defaults_give_up_on_a_drip_in_under_two_minutes():
    d = DownloadSettings()
    assert d.stall_seconds * (1 + d.stall_retries) + 10 < 120  # + a slow SHA256SUMS


def test_bad_download_settings_are_all_reported_with_their_paths():
    with pytest.raises(ConfigInvalid) as info:
        parse_install_config({"stages": [], "install": {
            "download_stall_seconds": 0, "download_min_rate": 1.5, "download_stall_retries": "two"}})
    text = str(info.value)
    for key in ("download_stall_seconds", "download_min_rate", "download_stall_retries"):
        assert f"install.{key}" in text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_time_waiting_on_the_network_counts():
    clock = Clock()
    watch = StallWatch(DownloadSettings(10.0, 100, 0), clock)
    clock.now += 1000  # the consumer busy elsewhere: not a stall
    assert watch.left() == 10.0
    with watch.waiting():
        clock.now += 4
        assert watch.left() == 6.0
    clock.now += 1000
    assert watch.left() == 6.0 and not watch.expired()


def test_a_window_worth_of_bytes_moves_the_deadline_on():
    clock = Clock()
    watch = StallWatch(DownloadSettings(10.0, 100, 0), clock)  # 1000 bytes per 10 s
    with watch.waiting():
        clock.now += 9
        assert not watch.add(999)
        assert watch.left() == 1.0
        assert watch.add(1)
        assert watch.left() == 10.0
        clock.now += 10
        assert watch.expired()


def test_without_a_floor_any_byte_moves_the_deadline_on():
    clock = Clock()
    watch = StallWatch(DownloadSettings(1.0, 0, 0), clock)
    with watch.waiting():
        clock.now += 0.9
        assert watch.add(1)
        clock.now += 0.9
        assert not watch.expired()


def test_sizes_and_rates_read_well():
    assert size_text(64 << 20) == "64 MiB" and size_text(1 << 30) == "1 GiB" and size_text(1000) == "1000 bytes"
    assert rate_text(16384) == "16 KiB/s" and rate_text(100) == "100 bytes/s" and rate_text(3 << 20) == "3 MiB/s"
