"""Crawls over real HTTP on loopback, against the stand-in and a faulty server."""

import hashlib
import time

import pytest
import requests

from cloudinit_maaslike.clockskew import ServerClock
from cloudinit_maaslike.errors import MetadataAuthError, MetadataNotFound, MetadataUnavailable
from cloudinit_maaslike.metadata import crawl, decode_vendordata
from cloudinit_maaslike.oauth import Credentials, Signer

from .servers import free_port, start_maas


def test_crawl_reads_every_item_in_one_round(maas):
    md, stats = crawl(maas.metadata_url(), maas.creds(), max_wait=10)
    assert md.instance_id == "abc123" and md.local_hostname == "node1.lab"
    assert md.public_keys == ("ssh-ed25519 AAAAC3Nza-one one@lab", "ssh-rsa AAAAB3Nza-two two@lab")
    assert md.userdata_raw == b"#cloud-config\nfinal_message: hello from abc123\n"
    assert md.userdata_sha256 == hashlib.sha256(md.userdata_raw).hexdigest()
    assert decode_vendordata(md.vendordata_raw) == "#cloud-config\nntp:\n  enabled: true\n"
    assert stats.requests == 5


def test_the_curtin_tree_is_used_as_given(maas):
    md, _ = crawl(maas.metadata_url(curtin=True), maas.creds(), max_wait=10)
    assert md.source.endswith("/MAAS/metadata/curtin/2012-03-01")
    assert md.instance_id == "abc123"


def test_latest_is_accepted(maas):
    md, _ = crawl(maas.url + "/MAAS/metadata/latest/", maas.creds(), max_wait=10)
    assert md.source.endswith("/MAAS/metadata/latest")


def test_unsigned_crawl_gets_enlistment_answers(maas):
    md, _ = crawl(maas.metadata_url(), None, max_wait=10)
    assert md.instance_id == "i-maas-enlistment" and md.local_hostname == "maas-enlisting-node"


def test_node_two_hours_behind_the_server_corrects_itself_once(tmp_path):
    ahead = start_maas(str(tmp_path / "state"), clock_offset=7200)
    try:
        skew_file = str(tmp_path / "skew.json")
        md, stats = crawl(ahead.metadata_url(), ahead.creds(), max_wait=10,
                          clock=ServerClock(skew_file))
        assert md.instance_id == "abc123"
        # each item is refused at most once (a thread that signs after another
        # learned the skew is accepted at once), then accepted
        assert 6 <= stats.requests <= 10
        assert abs(stats.clock_offset - 7200) < 3
        # A later process starts with the learned time: no refusal at all.
        _, again = crawl(ahead.metadata_url(), ahead.creds(), max_wait=10,
                         clock=ServerClock(skew_file))
        assert again.requests == 5
    finally:
        ahead.server.stop()


def test_maas_refuses_an_old_timestamp_with_a_date_header(tmp_path):
    ahead = start_maas(str(tmp_path / "state"), clock_offset=7200)
    try:
        url = ahead.metadata_url() + "2012-03-01/meta-data/instance-id"
        header, _ = Signer(ahead.creds(), ServerClock(None)).sign(url)
        response = requests.get(url, headers={"Authorization": header}, timeout=5)
        assert response.status_code == 401
        assert response.text.startswith("Authorization Error: 'Expired timestamp")
        assert response.headers["WWW-Authenticate"] == 'OAuth realm="OAuth"'
        from email.utils import parsedate_to_datetime
        server_time = parsedate_to_datetime(response.headers["Date"]).timestamp()
        assert abs(server_time - (time.time() + 7200)) < 5
    finally:
        ahead.server.stop()


def test_replayed_request_is_refused_over_http(maas):
    url = maas.metadata_url() + "2012-03-01/meta-data/instance-id"
    header, _ = Signer(maas.creds()).sign(url)
    assert requests.get(url, headers={"Authorization": header}, timeout=5).status_code == 200
    replay = requests.get(url, headers={"Authorization": header}, timeout=5)
    assert replay.status_code == 401 and "Nonce already used" in replay.text
    assert "Date" in replay.headers


def test_wrong_credentials_fail_at_once(maas):
    good = maas.creds()
    started = time.monotonic()
    with pytest.raises(MetadataAuthError) as info:
        crawl(maas.metadata_url(), Credentials(good.consumer_key, good.token_key, "WRONG-SECRET"),
              max_wait=60)
    assert time.monotonic() - started < 2
    assert info.value.status == 401 and "WRONG-SECRET" not in str(info.value)
    assert "Invalid signature" in str(info.value)


def test_unknown_version_is_a_404_on_a_required_item(maas):
    with pytest.raises(MetadataNotFound) as info:
        crawl(maas.url + "/MAAS/metadata/2009-01-01", maas.creds(), max_wait=60)
    assert info.value.status == 404 and "(HTTP 404)" in str(info.value)
    assert "/2009-01-01/2012-03-01/meta-data/" in str(info.value)


def test_server_errors_and_resets_are_retried(flaky):
    server = flaky([503, "reset", 502])
    md, stats = crawl(server.url, None, max_wait=20)
    assert md.instance_id == "instance-id"  # the flaky server echoes the item name
    assert len(server.seen) == 8  # three failures, each retried, and five answers
    # a reset on a kept-alive connection is retried at once on a new one, inside
    # the same attempt, so the crawl may count one request fewer than the server
    assert stats.requests in (7, 8)


def test_stalled_server_is_given_up_on_by_the_deadline(flaky):
    server = flaky(["stall"] * 20)
    started = time.monotonic()
    with pytest.raises(MetadataUnavailable) as info:
        crawl(server.url, None, timeout=0.5, max_wait=2)
    elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert "read timeout" in str(info.value) and "max_wait" in str(info.value)


def test_no_server_at_all_is_given_up_on_by_the_deadline():
    url = f"http://127.0.0.1:{free_port()}/MAAS/metadata/"
    started = time.monotonic()
    with pytest.raises(MetadataUnavailable, match="connection refused"):
        crawl(url, None, max_wait=1.5)
    assert 1.0 < time.monotonic() - started < 3


def test_a_server_that_comes_up_late_is_waited_for(tmp_path):
    import threading

    port = free_port()
    holder = {}

    def late():
        time.sleep(1.0)
        from cloudinit_maaslike.server.inventory import parse_inventory
        from cloudinit_maaslike.server.runner import BackgroundServer
        from cloudinit_maaslike.server.state import ServerOptions

        from .servers import NODES
        holder["server"] = BackgroundServer(
            parse_inventory(NODES, "t"), ServerOptions(state_dir=str(tmp_path), port=port)).start()

    thread = threading.Thread(target=late)
    thread.start()
    try:
        md, _ = crawl(f"http://127.0.0.1:{port}/MAAS/metadata/", None, max_wait=20)
        assert md.instance_id == "i-maas-enlistment"
    finally:
        thread.join()
        holder["server"].stop()


def test_file_url_tree(tmp_path):
    tree = tmp_path / "2012-03-01"
    (tree / "meta-data").mkdir(parents=True)
    (tree / "meta-data" / "instance-id").write_text("file-node")
    (tree / "meta-data" / "local-hostname").write_text("file-node.lab")
    (tree / "user-data").write_bytes(b"#!/bin/sh\n")
    md, stats = crawl(f"file://{tmp_path}", None)
    assert (md.instance_id, md.local_hostname) == ("file-node", "file-node.lab")
    assert md.userdata_raw == b"#!/bin/sh\n"
    assert stats.requests == 0
