"""The decoder's bounds: hostile payloads end fast in one clear error, and fail closed.

Each reproduces a reported problem: a header line the lexer took 16-36 s on,
a 44 KB archive whose layout check took 12 s (cubic in path depth), a gzip'd
payload padded past the budget that was judged "not a payload" (so cloud-init
ran it), and configs that crashed or exhausted the process (deep nesting, an
alias bomb).  Time limits here are generous; bench/decode_bounds.py measures.
"""

import base64
import gzip
import io
import os
import resource
import subprocess
import sys
import tarfile
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudinit_maaslike.config.bounded import DocumentLimitError
from cloudinit_maaslike.errors import ConfigError, MaaslikeError
from cloudinit_maaslike.payload import (
    NotAPayload,
    PayloadError,
    decode,
    limits,
    looks_like_payload,
    merged_config,
    wrappers,
)
from cloudinit_maaslike.payload.archive import read_archive, resolve_inside
from cloudinit_maaslike.payload.names import find_nested
from cloudinit_maaslike.payload.shellwords import HeaderTooLong, read_assignments
from tests.fixtures.payload import hostile
from tests.fixtures.payload.curtin_format import CURTIN_MEMBERS, curtin_pack

MIB = 1024 * 1024
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAYLOAD = curtin_pack()


def one_line(exc):
    text = str(exc)
    assert text and "\n" not in text
    return text


def refused_quickly(data, match, seconds=3.0, kind=PayloadError):
    started = time.perf_counter()
    with pytest.raises(kind, match=match) as caught:
        merged_config(decode(data))
    assert time.perf_counter() - started < seconds
    return one_line(caught.value)


# --- fail closed ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def padded():
    """A valid pack script padded with 70 MiB of blank lines, gzip'd: past the 64 MiB budget of a small input."""
    return hostile.padded_gzip_userdata(70 * MIB)


def test_padded_gzip_payload_is_claimed_and_refused(padded):
    assert len(padded) < MIB
    assert looks_like_payload(padded)
    message = refused_quickly(padded, "expands past its 64 MiB decoding budget")
    assert message.startswith("gzip user-data holding an install payload cannot be read")


def test_payload_padded_past_the_old_512_mib_cap_is_claimed():
    """The reported fail-open: past the cap, gzip user-data was judged "not a payload", so it ran."""
    data = hostile.padded_gzip_userdata(520 * MIB)
    started = time.perf_counter()
    assert looks_like_payload(data)
    with pytest.raises(PayloadError, match="holding an install payload cannot be read") as caught:
        decode(data)
    assert not isinstance(caught.value, NotAPayload)
    assert time.perf_counter() - started < 3.0  # only the 64 MiB budget is ever inflated


def test_padded_gzip_payload_is_not_a_payload_error_of_the_not_ours_kind(padded):
    with pytest.raises(PayloadError) as caught:
        decode(padded)
    assert not isinstance(caught.value, NotAPayload)


@pytest.mark.parametrize("wrap", [
    lambda data: base64.encodebytes(data),
    lambda data: mime_of(MIMEApplication(data, "gzip")),
])
def test_padded_payload_fails_closed_under_other_wrappings(padded, wrap):
    data = wrap(padded)
    assert looks_like_payload(data)
    with pytest.raises(PayloadError) as caught:
        decode(data)
    assert not isinstance(caught.value, NotAPayload)


def mime_of(*parts):
    message = MIMEMultipart(boundary="==hostile==")  # a fixed boundary: email's own uses `random`
    for part in parts:
        message.attach(part)
    return message.as_bytes()


def test_a_big_gzip_that_is_no_payload_stays_cloud_inits():
    script = b"#!/bin/sh\necho hello\n" + b"\n" * (70 * MIB)
    data = gzip.compress(script, compresslevel=1)
    assert not looks_like_payload(data)
    with pytest.raises(NotAPayload, match="does not decompress"):
        decode(data)


def test_a_damaged_gzip_payload_is_claimed_once_its_header_shows():
    data = gzip.compress(PAYLOAD)
    cut = data[: len(data) // 2]  # the header decompresses; the rest is missing
    assert looks_like_payload(cut)
    with pytest.raises(PayloadError, match="holding an install payload cannot be read: .*truncated"):
        decode(cut)


def test_oversized_input_is_claimed_only_if_it_starts_like_a_payload(monkeypatch):
    monkeypatch.setattr(wrappers, "MAX_INPUT_BYTES", 1_000)
    big = PAYLOAD + b"\n" * 2_000
    assert looks_like_payload(big)
    with pytest.raises(PayloadError, match=f"is {len(big)} bytes, more than the 0 MiB"):
        decode(big)
    with pytest.raises(NotAPayload, match="too large"):
        decode(b"#!/bin/sh\n" + b"echo hi\n" * 500)


def test_claims_payload_sniffs_every_wrapping():
    for data in (PAYLOAD, gzip.compress(PAYLOAD), base64.b64encode(gzip.compress(PAYLOAD)),
                 mime_of(MIMEApplication(PAYLOAD, "x-shellscript"))):
        assert wrappers.claims_payload(data[: len(data) * 3 // 4])
    for data in (b"#!/bin/sh\necho hi\n", b"#cloud-config\na: 1\n", gzip.compress(b"#cloud-config\n"), b""):
        assert not wrappers.claims_payload(data)


# --- the cloud-init module: scripts removed first, one clear error, nothing run -------------------

class FakeDatasource:
    def __init__(self, raw):
        self.raw = raw

    def get_userdata_raw(self):
        return self.raw

    def get_instance_id(self):
        return "i-bounds"


class FakePaths:
    def __init__(self, top):
        self.run_dir = str(top / "run")
        self.top = top

    def get_ipath_cur(self, name):
        return str(self.top / "instance" / name)


class FakeCloud:
    def __init__(self, top, raw):
        self.paths = FakePaths(top)
        self.datasource = FakeDatasource(raw)


def run_handle_payload(tmp_path, raw, script):
    from cloudinit_maaslike.ccmodules import handle_payload

    scripts = tmp_path / "instance" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "part-001").write_bytes(script)  # what cloud-init wrote for scripts_user
    (scripts / "part-002").write_bytes(b"#!/bin/sh\necho not ours\n")
    cloud = FakeCloud(tmp_path, raw)
    with pytest.raises(MaaslikeError) as caught:
        handle_payload(name="maaslike_payload", cfg={}, cloud=cloud, args=[])
    assert sorted(os.listdir(scripts)) == ["part-002"]  # the payload's script is gone, others stay
    assert not (tmp_path / "run" / "maaslike" / "install.json").exists()  # no install was set up
    return one_line(caught.value)


# the failure report imports the install engine, whose libc lookup runs ldconfig
@pytest.mark.allow_subprocess
def test_handle_payload_fails_closed_on_a_padded_gzip_payload(tmp_path, padded):
    script = gzip.decompress(padded)
    message = run_handle_payload(tmp_path, padded, script)
    assert "expands past its 64 MiB decoding budget" in message


@pytest.mark.allow_subprocess
@pytest.mark.parametrize("config,problem", [
    (hostile.nested_flow(50_000), "nesting deeper than 100 levels"),
    (hostile.ALIAS_BOMB, "once aliases are expanded"),
])
def test_handle_payload_reports_a_hostile_config_in_one_line(tmp_path, config, problem):
    payload = hostile.with_config(config)
    message = run_handle_payload(tmp_path, payload, payload)
    assert problem in message and "configs/config-000.cfg" in message


# --- the header ------------------------------------------------------------------------------

def test_a_100_kb_header_line_is_refused_fast():
    message = refused_quickly(hostile.long_header_line(100_000), "longer than 65536 bytes", seconds=1.0)
    assert message.startswith("header line 6 ")


def test_the_lexer_is_linear_on_its_worst_line():
    """'=' after a non-name used to re-join the whole word: 16-36 s at 100 KB."""
    text = "#!/bin/bash\nCOMMAND=( curtin install -" + "=" * 200_000 + " )\n"
    started = time.perf_counter()
    with pytest.raises(PayloadError, match="longer than 65536"):
        read_assignments(text)
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()
    scalars, arrays, _ = read_assignments("#!/bin/bash\nCOMMAND=( -" + "=" * 60_000 + " )\nX=1\n")
    assert arrays["COMMAND"] == ("-" + "=" * 60_000,) and scalars["X"] == "1"
    assert time.perf_counter() - started < 0.5


def test_header_assignments_past_the_read_budget_are_refused_not_truncated():
    assert decode(hostile.many_assignments(200 * 1024)).md5_ok  # within the budget
    refused_quickly(hostile.many_assignments(300 * 1024), "the header goes on past 262144 bytes")


def test_a_cut_header_never_reads_as_complete():
    with pytest.raises(HeaderTooLong):
        read_assignments("A=1\nB=2\n", cut=True)
    assert read_assignments("A=1\nmain() {\n", cut=True)[0] == {"A": "1"}  # the header ended before the cut


def test_too_many_configs():
    command = ["curtin", "install", *["-c", "configs/config-000.cfg"] * 1_001, "src"]
    refused_quickly(curtin_pack(command=command), "more than 1000 --config options")


def test_one_config_named_many_times_is_one_text_and_one_budget():
    config = "a: [" + ", ".join(["1"] * 2_000) + "]\n"
    payload = decode(curtin_pack(configs=[config], command=["curtin", "install",
                                                            *["-c", "configs/config-000.cfg"] * 60, "src"]))
    assert all(text is payload.configs[0][1] for _, text in payload.configs)
    with pytest.raises(DocumentLimitError, match="more than 100000 nodes .limit: max_nodes, in all."):
        merged_config(payload)


# --- the archive --------------------------------------------------------------------------------

def test_deep_directories_are_refused_fast():
    data = hostile.deep_directories(3_000)
    assert len(data) < 100_000
    refused_quickly(data, "is more than 64 directories deep", seconds=2.0)


def test_the_deepest_allowed_paths_decode_and_layout_checks_stay_linear():
    started = time.perf_counter()
    payload = decode(hostile.deep_members(members=10_000, depth=63))
    assert len(payload.members) == 10_000
    assert time.perf_counter() - started < 3.0


def tgz(*entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, link in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            tar.addfile(info, io.BytesIO(b""))
    return gzip.compress(raw.getvalue())


def test_name_length_and_name_total_are_bounded():
    with pytest.raises(PayloadError, match="longer than 4095 bytes"):
        read_archive(tgz(("a" * 4_096, tarfile.REGTYPE, "")))
    with pytest.raises(PayloadError, match="target longer than 4095 bytes"):
        read_archive(tgz(("l", tarfile.SYMTYPE, "a" * 4_096)))
    many = [(f"{'n' * 3_000}{index}", tarfile.REGTYPE, "") for index in range(1_500)]
    with pytest.raises(PayloadError, match="member names add up to more than 4 MiB"):
        read_archive(tgz(*many))


def test_a_file_deep_under_a_file_is_still_found():
    deep = "/".join(["d"] * 60)
    with pytest.raises(PayloadError, match=f"member {deep}/f/x lies under the file {deep}/f"):
        read_archive(tgz((f"{deep}/f", tarfile.REGTYPE, ""), ("other", tarfile.REGTYPE, ""),
                         (f"{deep}/f/x", tarfile.REGTYPE, "")))


def test_symlink_resolution_has_a_total_budget():
    refused_quickly(hostile.symlink_maze(links=300), "take more than 200000 steps to resolve")


def test_archive_expansion_budget_follows_the_input():
    assert limits.expansion_limit(1_000) == 64 * MIB
    assert limits.expansion_limit(2 * MIB) == 128 * MIB
    assert limits.expansion_limit(100 * MIB) == limits.MAX_EXPANDED_BYTES == 512 * MIB
    refused_quickly(hostile.zero_bomb_archive(100 * MIB), "the archive expands past 64 MiB")


# --- MIME ---------------------------------------------------------------------------------------

def test_mime_gzip_bombs_share_one_budget():
    """Each failed inflation spends the budget, so 12 bombs cost one; what cannot be sniffed is claimed."""
    data = hostile.mime_gzip_bombs(parts=12, each=80 * MIB)
    started = time.perf_counter()
    assert looks_like_payload(data)
    refused_quickly(data, "cannot be told apart from an install payload")
    assert time.perf_counter() - started < 3.0


def test_mime_parts_and_nesting_are_bounded_before_parsing():
    refused_quickly(hostile.mime_many_parts(1_001), "more than 1000 parts", seconds=1.0)
    refused_quickly(hostile.mime_nested(2_000), "more than 8 multipart boundaries", seconds=1.0)
    assert looks_like_payload(hostile.mime_nested(2_000))  # cannot be read, so claimed
    assert decode(hostile.mime_many_parts(900)).wrapping == "mime"


# --- in a child process, under a memory limit and a timeout ---------------------------------------

CHILD = """
from cloudinit_maaslike.config.bounded import DocumentLimitError
from cloudinit_maaslike.errors import MaaslikeError
from cloudinit_maaslike.payload import PayloadError, decode, looks_like_payload, merged_config
from tests.fixtures.payload import hostile
for name, data in [("nested", hostile.with_config(hostile.nested_flow(50_000))),
                   ("bomb", hostile.with_config(hostile.ALIAS_BOMB)),
                   ("padded", hostile.padded_gzip_userdata(100 * 1024 * 1024)),
                   ("zero-bomb", hostile.zero_bomb_archive(200 * 1024 * 1024))]:
    try:
        merged_config(decode(data))
        print(name, looks_like_payload(data), "DECODED")
    except MaaslikeError as exc:
        kinds = [kind for kind in (DocumentLimitError, PayloadError) if isinstance(exc, kind)]
        print(name, looks_like_payload(data), kinds[0].__name__ if kinds else type(exc).__name__)
"""


def limit_child():
    resource.setrlimit(resource.RLIMIT_AS, (1024 ** 3, 1024 ** 3))


@pytest.mark.allow_subprocess
def test_hostile_payloads_in_a_memory_limited_child():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=120,
                          preexec_fn=limit_child)
    assert done.returncode == 0, f"rc={done.returncode} (139 is a segfault)\n{done.stderr[-2000:]}"
    assert done.stdout.split("\n")[:-1] == ["nested True DocumentLimitError", "bomb True DocumentLimitError",
                                            "padded True PayloadError", "zero-bomb True PayloadError"]


# --- properties -----------------------------------------------------------------------------------

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUDGET_SECONDS = 2.0


def check(data):
    """Payload or PayloadError within the time budget; `looks_like_payload` agrees with `decode`."""
    started = time.perf_counter()
    claimed = looks_like_payload(data)
    try:
        merged_config(decode(data))
    except NotAPayload:
        assert not claimed
    except (PayloadError, ConfigError) as exc:
        assert claimed
        one_line(exc)
    else:
        assert claimed
    assert time.perf_counter() - started < BUDGET_SECONDS


@FAST
@given(st.text(alphabet="=-'\"\\$ ()a_;\n#\t", max_size=5_000))
def test_any_command_line(line):
    check(hostile.with_command_line(b"COMMAND=( " + line.encode() + b" )"))


@FAST
@given(st.integers(0, 120_000), st.sampled_from([b"=", b"a", b"'", b" ", b"a="]))
def test_long_runs_in_the_header(length, unit):
    check(hostile.with_command_line(b"COMMAND=( curtin install " + unit * (length // len(unit)) + b" src )"))


@st.composite
def deep_archives(draw):
    parts = st.sampled_from(["a", "b", ".", "..", "", "l"])
    entries = []
    for _ in range(draw(st.integers(1, 12))):
        depth = draw(st.integers(1, 90))
        name = "/".join(draw(st.lists(parts, min_size=depth, max_size=depth)))
        kind = draw(st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE]))
        link = "/".join(draw(st.lists(parts, min_size=1, max_size=draw(st.integers(1, 300)))))
        entries.append((name or ".", kind, link))
    return hostile.with_archive(tgz(*entries))


@FAST
@given(deep_archives())
def test_deep_random_archives(data):
    check(data)


@st.composite
def wrapped(draw):
    data = draw(st.sampled_from([PAYLOAD, curtin_pack(md5="0" * 32), b"#!/bin/sh\necho hi\n", b"#cloud-config\n"]))
    cut = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        data = data[:cut]
    for _ in range(draw(st.integers(0, 5))):
        layer = draw(st.sampled_from(["gzip", "base64", "mime", "truncate-gzip"]))
        if layer == "gzip":
            data = gzip.compress(data)
        elif layer == "truncate-gzip":
            packed = gzip.compress(data)
            data = packed[: draw(st.integers(0, len(packed)))]
        elif layer == "base64":
            data = base64.encodebytes(data)
        else:
            data = mime_of(MIMEApplication(data, "octet-stream"))
    return data


@FAST
@given(wrapped())
def test_wrappings_claimed_exactly_when_decode_says_ours(data):
    check(data)


# --- the linear helpers agree with the simple quadratic ones -----------------------------------------

def nested_the_slow_way(names, blockers):
    for name in names:
        parts = name.split("/")
        for end in range(1, len(parts)):
            parent = "/".join(parts[:end])
            if parent in blockers:
                return True
    return False


@FAST
@given(st.lists(st.text(alphabet="ab/-", min_size=1, max_size=8).map(lambda s: "/".join(p for p in s.split("/") if p))
                .filter(bool), unique=True, max_size=12), st.data())
def test_find_nested_matches_the_quadratic_check(names, data):
    blockers = {name for name in names if data.draw(st.booleans())}
    found = find_nested(names, blockers)
    assert (found is not None) == nested_the_slow_way(names, blockers)
    if found is not None:
        assert found[1] in blockers and found[0].startswith(found[1] + "/")


def resolve_the_slow_way(parts, symlinks, link):
    resolved, queue, hops = [], list(parts), 0
    while queue:
        part = queue.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise PayloadError("outside")
            resolved.pop()
            continue
        resolved.append(part)
        target = symlinks.get("/".join(resolved))
        if target is None:
            continue
        hops += 1
        if hops > 40 or target.startswith("/"):
            raise PayloadError("loops or absolute")
        resolved.pop()
        queue = target.split("/") + queue
    return resolved


@FAST
@given(st.dictionaries(st.sampled_from(["a", "b", "a/b", "a/c", "b/a", "c"]),
                       st.text(alphabet="abc./", max_size=10), max_size=5),
       st.text(alphabet="abc./", max_size=12))
def test_resolver_matches_the_simple_walk(symlinks, path):
    try:
        expected = resolve_the_slow_way(path.split("/"), symlinks, "l")
    except PayloadError:
        expected = None
    try:
        got = resolve_inside(path.split("/"), symlinks, "l")
    except PayloadError:
        got = None
    assert got == expected


def test_members_without_configs_still_decode():
    payload = decode(curtin_pack(files=dict(CURTIN_MEMBERS), command=["curtin", "install", "src"]))
    assert payload.configs == ()
