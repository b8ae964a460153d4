"""Which files /images/ may reach: nothing outside the images directory."""

import os

from cloudinit_maaslike.server.images import resolve_image


def make_tree(tmp_path):
    root = tmp_path / "images"
    (root / "ubuntu" / "amd64").mkdir(parents=True)
    (root / "ubuntu" / "amd64" / "root.tgz").write_bytes(b"image")
    (root / ".hidden").write_bytes(b"no")
    (tmp_path / "secret.txt").write_bytes(b"outside")
    os.symlink(tmp_path / "secret.txt", root / "escape")
    os.symlink(root / "ubuntu" / "amd64" / "root.tgz", root / "latest.tgz")
    return str(root)


def test_files_inside_are_served(tmp_path):
    root = make_tree(tmp_path)
    assert resolve_image(root, "ubuntu/amd64/root.tgz") == os.path.join(
        os.path.realpath(root), "ubuntu", "amd64", "root.tgz")
    assert resolve_image(root, "latest.tgz").endswith("root.tgz")  # a symlink that stays inside


def test_traversal_symlinks_out_hidden_and_directories_are_refused(tmp_path):
    root = make_tree(tmp_path)
    for path in ("../secret.txt", "ubuntu/../../secret.txt", "/etc/passwd", "escape",
                 ".hidden", "ubuntu/.././.hidden", "ubuntu", "", "missing.tgz",
                 "ubuntu/amd64/root.tgz\0.txt"):
        assert resolve_image(root, path) is None, path
