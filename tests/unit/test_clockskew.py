import os
import stat
import time
from email.utils import formatdate

from cloudinit_maaslike.clockskew import SKEW_TOLERANCE, ServerClock, parse_http_date

SERVER_NOW = 1_800_000_000.0  # what the server's clock says
NETLOC = "10.0.0.1:5248"


class Clocks:
    """A host whose wall clock is 2 h behind the server and can be stepped."""

    def __init__(self, wall: float, mono: float = 5000.0):
        self.wall, self.mono = wall, mono

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def clock(self, path=None, boot_id="boot-a") -> ServerClock:
        return ServerClock(path, wall=lambda: self.wall, monotonic=lambda: self.mono, boot_id=boot_id)


def test_http_date_is_read_as_utc_whatever_the_host_timezone(monkeypatch):
    date = formatdate(SERVER_NOW, usegmt=True)
    for tz in ("UTC", "America/New_York", "Asia/Kolkata"):
        monkeypatch.setenv("TZ", tz)
        time.tzset()
        assert parse_http_date(date) == SERVER_NOW
    monkeypatch.delenv("TZ")
    time.tzset()


def test_learning_under_new_york_time_gives_the_true_offset(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        host = Clocks(wall=SERVER_NOW - 7200)
        clock = host.clock()
        sent = clock.timestamp(NETLOC)
        assert clock.learn(NETLOC, formatdate(SERVER_NOW, usegmt=True), sent)
        assert abs(clock.timestamp(NETLOC) - SERVER_NOW) <= 1
        assert abs(clock.offset(NETLOC) - 7200) <= 1
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_small_difference_does_not_explain_a_refusal():
    host = Clocks(wall=SERVER_NOW)
    clock = host.clock()
    date = formatdate(SERVER_NOW + SKEW_TOLERANCE - 1, usegmt=True)
    assert not clock.learn(NETLOC, date, clock.timestamp(NETLOC))
    assert not clock.learn(NETLOC, None, clock.timestamp(NETLOC))
    assert not clock.learn(NETLOC, "not a date", clock.timestamp(NETLOC))


def test_wall_clock_step_after_learning_does_not_corrupt_timestamps():
    host = Clocks(wall=SERVER_NOW - 7200)
    clock = host.clock()
    clock.learn(NETLOC, formatdate(SERVER_NOW, usegmt=True), clock.timestamp(NETLOC))
    host.tick(30)
    expected = SERVER_NOW + 30
    assert abs(clock.timestamp(NETLOC) - expected) <= 1
    host.wall += 7200  # NTP fixes the host clock: a step of the wall clock only
    assert abs(clock.timestamp(NETLOC) - expected) <= 1


def test_other_servers_use_the_local_clock():
    host = Clocks(wall=SERVER_NOW - 7200)
    clock = host.clock()
    clock.learn(NETLOC, formatdate(SERVER_NOW, usegmt=True), clock.timestamp(NETLOC))
    assert clock.timestamp("other:80") == int(host.wall)


def test_skew_is_persisted_privately_and_used_by_a_later_process(tmp_path):
    path = str(tmp_path / "run" / "skew.json")
    host = Clocks(wall=SERVER_NOW - 7200)
    first = host.clock(path)
    first.learn(NETLOC, formatdate(SERVER_NOW, usegmt=True), first.timestamp(NETLOC))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p for p in os.listdir(tmp_path / "run") if p.startswith(".tmp")] == []
    host.tick(60)
    host.wall += 7200  # NTP stepped the clock between the two processes
    later = host.clock(path)  # same boot: the monotonic anchor holds
    assert abs(later.timestamp(NETLOC) - (SERVER_NOW + 60)) <= 1


def test_persisted_skew_from_another_boot_uses_the_wall_offset(tmp_path):
    path = str(tmp_path / "skew.json")
    host = Clocks(wall=SERVER_NOW - 7200)
    host.clock(path).learn(NETLOC, formatdate(SERVER_NOW, usegmt=True), host.wall)
    rebooted = Clocks(wall=SERVER_NOW - 7200 + 500, mono=12.0)  # monotonic restarted
    clock = rebooted.clock(path, boot_id="boot-b")
    assert abs(clock.timestamp(NETLOC) - (SERVER_NOW + 500)) <= 1


def test_unreadable_skew_file_is_ignored(tmp_path):
    path = tmp_path / "skew.json"
    path.write_text("{not json")
    clock = Clocks(wall=SERVER_NOW).clock(str(path))
    assert clock.timestamp(NETLOC) == int(SERVER_NOW)
