"""Real cloud-init (Debian 12's 22.4.2 and Debian 13's 25.1.4) with our datasource.

Each test boots cloud-init's `init` stages in a private root (mount namespace,
overlay /etc, tmpfs /run): the kernel command line carries
``cloud-config-url=`` pointing at the stand-in server's preseed, which holds
``datasource: MAAS:`` exactly as MAAS composes it, and the image carries our
cloud.cfg.d snippet (``datasource_list: [ MAASLike ]``).
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.harness import ciroot

from .servers import start_maas

pytestmark = [pytest.mark.cloudinit, pytest.mark.root]

SKIP = ciroot.can_run()
VERSIONS = sorted(ciroot.versions()) or ["22.4.2", "25.1.4"]


@pytest.fixture(params=VERSIONS)
def version(request) -> str:
    if SKIP:
        pytest.skip(SKIP)
    return request.param


@pytest.fixture
def server(tmp_path):
    maas = start_maas(str(tmp_path / "server"))
    yield maas
    maas.server.stop()


def boot(tmp_path, version, cmdline, name="root") -> ciroot.PrivateRoot:
    return ciroot.PrivateRoot(str(tmp_path / name), version, cmdline=cmdline)


def assert_no_secret(text: str, maas) -> None:
    for system_id in ("abc123", "def456"):
        secret = maas.creds(system_id).token_secret
        assert secret not in text
    assert "oauth_signature" not in text


def test_boot_finds_the_node_through_the_maas_preseed(tmp_path, version, server):
    root = boot(tmp_path, version, f"ro cloud-config-url={server.preseed_url()} console=ttyS0")
    run = root.cloudinit("init")
    assert run.returncode == 0, run.stderr[-3000:]

    with open(os.path.join(root.cloud_dir, "data", "instance-id")) as handle:
        assert handle.read().strip() == "abc123"
    with open(os.path.join(root.instance_dir(), "datasource")) as handle:
        assert handle.read().startswith("DataSourceMAASLike")
    user_data = os.path.join(root.instance_dir(), "user-data.txt")
    with open(user_data, "rb") as handle:
        # A deploying node's curtin tree serves the install payload, as MAAS does.
        payload = server.api.documents.curtin_user_data(server.api.nodes["abc123"], "deploying", server.url)
        assert handle.read() == payload
    assert stat.S_IMODE(os.stat(user_data).st_mode) == 0o600

    status = root.status()
    assert status["datasource"].startswith("DataSourceMAASLike")
    assert status["init"]["errors"] == []
    assert status["init"].get("recoverable_errors", {}) == {}  # 25.x: not degraded

    instance = root.read_json("instance-data.json")
    assert instance["v1"]["instance_id"] == "abc123"
    assert instance["v1"]["local_hostname"] == "node1"
    assert instance["v1"]["subplatform"] == f"metadata ({server.url}/MAAS/metadata/curtin)"
    assert instance["v1"]["public_ssh_keys"] == ["ssh-ed25519 AAAAC3Nza-one one@lab",
                                                  "ssh-rsa AAAAB3Nza-two two@lab"]

    # The preseed reached cloud-init's config the MAAS way (0600, holds tokens).
    preseed_cfg = root.etc_file("cloud/cloud.cfg.d/91_kernel_cmdline_url.cfg")
    assert stat.S_IMODE(os.stat(preseed_cfg).st_mode) == 0o600
    # Our crawl, and cloud-init's reporting to the same server, happened.
    assert "crawled " in run.stderr and "instance-id abc123" in run.stderr
    names = [e.get("name") for e in server.events() if e["kind"] == "event"]
    assert "init-network/search-MAASLike" in names

    assert_no_secret(run.stderr + root.log(), server)
    with open(os.path.join(root.run_dir, "instance-data.json")) as handle:
        assert_no_secret(handle.read(), server)


def test_reboot_with_the_same_credentials_needs_no_network(tmp_path, version, server):
    root = boot(tmp_path, version, f"ro cloud-config-url={server.preseed_url()}")
    assert root.cloudinit("init").returncode == 0
    server.server.stop()  # the metadata server is gone for the second boot
    root.reboot("ro console=ttyS0")  # the installed system boots without the preseed URL
    local = root.cloudinit("init", "--local")
    net = root.cloudinit("init")
    assert local.returncode == 0 and net.returncode == 0, net.stderr[-3000:]
    assert "restored from" in local.stderr.lower() or "restored from" in net.stderr.lower()
    assert "crawled " not in local.stderr + net.stderr
    with open(os.path.join(root.cloud_dir, "data", "instance-id")) as handle:
        assert handle.read().strip() == "abc123"


def test_changed_credentials_crawl_again(tmp_path, version, server):
    root = boot(tmp_path, version, f"ro cloud-config-url={server.preseed_url('abc123')}")
    assert root.cloudinit("init").returncode == 0
    root.reboot(f"ro cloud-config-url={server.preseed_url('def456')}")
    local = root.cloudinit("init", "--local")
    net = root.cloudinit("init")
    assert local.returncode == 0 and net.returncode == 0, net.stderr[-3000:]
    assert "crawled " in net.stderr
    with open(os.path.join(root.cloud_dir, "data", "instance-id")) as handle:
        assert handle.read().strip() == "def456"


def test_refused_credentials_fail_with_one_clear_warning(tmp_path, version, server):
    c = server.creds()
    snippet = (
        "datasource:\n  MAASLike:\n"
        f"    metadata_url: {server.metadata_url()}\n"
        f"    consumer_key: {c.consumer_key}\n    token_key: {c.token_key}\n"
        "    token_secret: NOT-THE-SECRET\n    max_wait: 20\n"
    )
    root = ciroot.PrivateRoot(str(tmp_path / "root"), version, cmdline="ro",
                              snippets={"95_maaslike_test.cfg": snippet})
    run = root.cloudinit("init")
    warnings = [line for line in run.stderr.splitlines()
                if "WARNING" in line and "MAASLike" in line and "HTTP 401" in line]
    assert len(warnings) == 1, run.stderr[-3000:]
    assert server.url in warnings[0] and "Invalid signature" in warnings[0]
    assert "NOT-THE-SECRET" not in run.stderr
    assert not os.path.exists(os.path.join(root.cloud_dir, "data", "instance-id"))
    # cloud-init itself logs a traceback for "no datasource"; none comes from our code
    assert os.path.join(ciroot.REPO, "cloudinit_maaslike") not in run.stderr


def test_versions_are_the_debian_ones():
    if SKIP:
        pytest.skip(SKIP)
    found = ciroot.versions()
    assert set(found) == {"22.4.2", "25.1.4"}
    assert found["22.4.2"]["debian_version"].startswith("22.4.2-1+deb12")
    assert found["25.1.4"]["debian_version"].startswith("25.1.4-1+deb13")
    assert json.dumps(found)
