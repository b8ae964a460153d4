"""`cloudconfig` files: curtin's names, so MAAS's settings outrank the image's own."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from cloudinit_maaslike.config.problems import Problems
from cloudinit_maaslike.curthooks import cloudconfig
from cloudinit_maaslike.curthooks.context import HookContext

RAW = {"maas-datasource": {"content": "datasource_list: [ MAAS ]\n", "path": "/etc/elsewhere.cfg"},
       "maas-cloud-config": {"content": "datasource: {MAAS: {token_secret: S}}\n"},
       "reporting": {"content": "reporting: {}\n", "permissions": "0640"}}


def test_each_entry_is_written_at_95_and_sorts_after_the_images_90_files(tmp_path):
    (tmp_path / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
    (tmp_path / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").write_text("datasource_list: [ NoCloud ]\n")
    ctx = HookContext(cfg={"cloudconfig": RAW}, target=str(tmp_path), state={}, log=logging.getLogger("test"),
                      in_target=lambda argv, stdin: pytest.fail("nothing runs in the target"))
    written = cloudconfig.write_cloudconfig(ctx)
    directory = tmp_path / "etc/cloud/cloud.cfg.d"
    names = sorted(os.listdir(directory))
    assert names == ["90_dpkg.cfg", "95-cloudconfig-maas-cloud-config.cfg", "95-cloudconfig-maas-datasource.cfg",
                     "95-cloudconfig-reporting.cfg"]
    assert sorted(written) == ["/etc/cloud/cloud.cfg.d/" + n for n in names[1:]]
    assert not (tmp_path / "etc/elsewhere.cfg").exists()  # `path` is ignored, as curtin ignores it
    modes = {n: stat.S_IMODE((directory / n).stat().st_mode) for n in names[1:]}
    assert modes == {"95-cloudconfig-maas-cloud-config.cfg": 0o600, "95-cloudconfig-maas-datasource.cfg": 0o644,
                     "95-cloudconfig-reporting.cfg": 0o640}


def test_an_ignored_path_is_a_warning_naming_the_file_used():
    problems = Problems()
    cloudconfig.parse(RAW, "cloudconfig", problems)
    assert problems.errors == []
    assert [str(w) for w in problems.warnings] == [
        "cloudconfig.maas-datasource.path: ignored, as curtin ignores it: the file is "
        "/etc/cloud/cloud.cfg.d/95-cloudconfig-maas-datasource.cfg"]


def test_bad_permissions_are_refused_with_their_path():
    problems = Problems()
    assert cloudconfig.parse({"x": {"content": "a: 1\n", "permissions": "rw"}}, "cloudconfig", problems) == ()
    assert [p.path for p in problems.errors] == ["cloudconfig.x.permissions"]


def test_the_section_is_parsed_into_write_files_specs_at_the_95_names():
    problems = Problems()
    files = cloudconfig.parse(RAW, "cloudconfig", problems)
    assert [(f.name, f.path, f.permissions) for f in files] == [
        ("maas-datasource", "etc/cloud/cloud.cfg.d/95-cloudconfig-maas-datasource.cfg", 0o644),
        ("maas-cloud-config", "etc/cloud/cloud.cfg.d/95-cloudconfig-maas-cloud-config.cfg", 0o600),
        ("reporting", "etc/cloud/cloud.cfg.d/95-cloudconfig-reporting.cfg", 0o640)]
    assert files[0].content == b"datasource_list: [ MAAS ]\n"


@pytest.mark.parametrize("raw,path", [("text", "cloudconfig"), ({"x": {"content": 3}}, "cloudconfig.x"),
                                      ({"bad name!": {"content": ""}}, "cloudconfig.bad name!")])
def test_a_malformed_section_is_refused_with_its_path(raw, path):
    problems = Problems()
    cloudconfig.parse(raw, "cloudconfig", problems)
    assert [p.path for p in problems.errors] == [path]
