"""The image store with real files: references, docker-archive and OCI-layout import,
layers with whiteouts, list/rm, and where stores are looked up."""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from tiphys.cli.main import main
from tiphys.errors import SpecError, TiphysError
from tiphys.images import build, reference, store
from tiphys.images.archive import ArchiveError, import_archive
from tiphys.images.layers import LayerError, apply_layer
from tiphys.images.store import ImageStore

@pytest.mark.parametrize("text, name, short", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("python:3.11", "docker.io/library/python:3.11", "python:3.11"),
    ("docker.io/library/alpine:3.23", "docker.io/library/alpine:3.23", "alpine:3.23"),
    ("argoproj/argosay:v2", "docker.io/argoproj/argosay:v2", "argoproj/argosay:v2"),
    ("localhost:5000/team/tool:1.0", "localhost:5000/team/tool:1.0", "localhost:5000/team/tool:1.0"),
    ("ghcr.io/org/x", "ghcr.io/org/x:latest", "ghcr.io/org/x:latest"),
])
def test_references_are_normalised_as_docker_does(text, name, short):
    ref = reference.parse(text)
    assert (ref.name, ref.short) == (name, short)


def test_digest_references_and_loopback():
    d = "sha256:" + "ab" * 32
    ref = reference.parse(f"127.0.0.1:5000/x@{d}")
    assert (ref.tag, ref.digest, ref.loopback) == (None, d, True)
    assert not reference.parse("quay.io/x/y:1").loopback


@pytest.mark.parametrize("bad, needle", [("", "empty"), ("Upper/Case", "invalid repository"),
                                          ("x@sha256:12", "digest"), ("x:bad tag", "invalid tag")])
def test_bad_references_say_what_is_wrong(bad, needle):
    with pytest.raises(SpecError, match=needle):
        reference.parse(bad)


def _archive(tmp_path: Path, layers: list[bytes], **config) -> Path:
    cfg = build.image_config(layers=layers, **config)
    return build.docker_archive(tmp_path / "img.tar", layers, cfg, ["example/base:1"])


def test_layers_apply_whiteouts_opaque_folders_links_in_order(tmp_path):
    base = build.layer_tar({"etc/": None, "etc/keep": "keep\n", "etc/gone": "gone\n", "opt/": None,
                            "opt/old1": "1", "opt/old2": "2", "bin/": None, "bin/tool": "#!/bin/sh\n"})
    top = build.layer_tar({"etc/.wh.gone": b"", "opt/.wh..wh..opq": b"", "opt/new": "n",
                           "bin/alias": ("link", "tool"), "bin/hard": ("hard", "bin/tool"),
                           "etc/keep": "replaced\n"})
    st = ImageStore(tmp_path / "store")
    img = import_archive(st, "ex:1", _archive(tmp_path, [base, top]))
    root = img.rootfs
    assert (root / "etc" / "keep").read_text() == "replaced\n"
    assert not (root / "etc" / "gone").exists()
    assert sorted(os.listdir(root / "opt")) == ["new"]          # opaque: lower files hidden, own kept
    assert os.readlink(root / "bin" / "alias") == "tool"
    assert os.stat(root / "bin" / "hard").st_ino == os.stat(root / "bin" / "tool").st_ino
    assert not any(n.startswith(".wh.") for _, _, files in os.walk(root) for n in files)


def test_a_layer_cannot_write_outside_its_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    # an absolute symlink, then a file "through" it: lands in root/<target>, never on the host
    evil = build.layer_tar({"escape": ("link", str(outside)), "escape/owned": "x"})
    (tmp_path / "l1").write_bytes(evil)
    apply_layer(root, tmp_path / "l1")
    assert list(outside.iterdir()) == []
    assert (root / str(outside).lstrip("/") / "owned").read_text() == "x"
    (tmp_path / "l2").write_bytes(build.layer_tar({"../climb": "x"}))
    with pytest.raises(LayerError, match="climbs out"):
        apply_layer(root, tmp_path / "l2")


def test_gzip_layers_and_oci_layout_with_its_config(tmp_path):
    layer = build.layer_tar({"hello.txt": "hi\n"})
    cfg = build.image_config(entrypoint=["/bin/sh", "-c"], cmd=["echo x"], env=["PATH=/bin", "A=1"],
                             working_dir="/srv", user="1000:1000", layers=[layer])
    archive = build.oci_archive(tmp_path / "oci.tar", [layer], cfg, ref_name="2.0")
    st = ImageStore(tmp_path / "store")
    img = import_archive(st, "localhost:5000/tools/hello:2.0", archive)
    assert img.names == ("localhost:5000/tools/hello:2.0",)
    assert img.digest and img.digest.startswith("sha256:")
    assert (img.rootfs / "hello.txt").read_text() == "hi\n"
    c = img.config
    assert (c.entrypoint, c.cmd, c.working_dir, c.user) == (("/bin/sh", "-c"), ("echo x",), "/srv", "1000:1000")
    assert c.environment() == {"PATH": "/bin", "A": "1"}
    assert c.argv((), ()) == ["/bin/sh", "-c", "echo x"]
    assert c.argv((), ("echo y",)) == ["/bin/sh", "-c", "echo y"]      # args replace CMD
    assert c.argv(("python",), ("a.py",)) == ["python", "a.py"]       # command replaces ENTRYPOINT
    # the layer blob is kept gzip-compressed, by digest
    assert any(p.read_bytes()[:2] == b"\x1f\x8b" for p in (st.root / "blobs" / "sha256").iterdir())


def test_list_and_rm_keep_blobs_another_name_uses(tmp_path):
    st = ImageStore(tmp_path / "store")
    a = _archive(tmp_path, [build.layer_tar({"a": "1"})])
    img = import_archive(st, "one:1", a)
    import_archive(st, "two:1", a)
    assert [i.names for i in st.images()] == [("docker.io/example/base:1", "docker.io/library/one:1",
                                                "docker.io/library/two:1")]
    blobs = set((st.root / "blobs" / "sha256").iterdir())
    st.remove("one:1")
    st.remove("example/base:1")
    assert st.lookup("two:1") is not None and img.rootfs.exists()
    assert set((st.root / "blobs" / "sha256").iterdir()) == blobs
    st.remove("two:1")
    assert st.images() == [] and not img.rootfs.exists()
    assert list((st.root / "blobs" / "sha256").iterdir()) == []
    with pytest.raises(TiphysError, match="not in the image store"):
        st.remove("two:1")


def test_lookup_tries_the_user_store_then_the_system_store(tmp_path):
    env = {"TIPHYS_HOME": str(tmp_path / "home"), "TIPHYS_SYSTEM_IMAGES": str(tmp_path / "system")}
    assert store.locations(env) == [tmp_path / "home" / "images", tmp_path / "system"]
    assert store.locations({**env, "TIPHYS_IMAGES": str(tmp_path / "mine")})[0] == tmp_path / "mine"
    a = _archive(tmp_path, [build.layer_tar({"f": "system"})])
    import_archive(ImageStore(tmp_path / "system"), "tool:1", a)
    found = store.find("tool:1", env)
    assert found is not None and found.store == tmp_path / "system"
    b = build.docker_archive(tmp_path / "b.tar", [build.layer_tar({"f": "user"})],
                             build.image_config(cmd=["x"]), ["tool:1"])
    import_archive(ImageStore(tmp_path / "home" / "images"), "tool:1", b)
    found = store.find("tool:1", env)
    assert found is not None and (found.rootfs / "f").read_text() == "user"
    assert store.find("absent:1", env) is None


def test_bad_archives_are_clear_errors(tmp_path):
    st = ImageStore(tmp_path / "store")
    with pytest.raises(ArchiveError, match="no such file"):
        import_archive(st, "x", tmp_path / "missing.tar")
    (tmp_path / "junk.tar").write_text("not a tar")
    with pytest.raises(ArchiveError, match="not a tar archive"):
        import_archive(st, "x", tmp_path / "junk.tar")
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    with pytest.raises(ArchiveError, match="neither a docker-archive"):
        import_archive(st, "x", tmp_path / "empty.tar")


def test_cli_import_list_rm(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIPHYS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIPHYS_SYSTEM_IMAGES", str(tmp_path / "system"))
    monkeypatch.delenv("TIPHYS_IMAGES", raising=False)
    a = _archive(tmp_path, [build.layer_tar({"a": "1"})], cmd=["sh"])
    assert main(["image", "import", "mytool:2", str(a)]) == 0
    assert main(["image", "import", "--system", "shared:1", str(a)]) == 0
    capsys.readouterr()
    assert main(["image", "list", "-o", "name"]) == 0
    assert capsys.readouterr().out.split() == ["example/base:1", "mytool:2", "example/base:1", "shared:1"]
    assert main(["image", "rm", "mytool:2"]) == 0
    assert main(["image", "rm", "mytool:2"]) == 1
    assert "not in the image store" in capsys.readouterr().err
    assert main(["image", "import", "x", str(tmp_path / "nope.tar")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tiphys: ") and "nope.tar" in err and "Traceback" not in err


def test_reimporting_a_name_drops_the_image_nothing_names_any_more(tmp_path):
    st = ImageStore(tmp_path / "store")
    old = import_archive(st, "tool:1", _archive(tmp_path, [build.layer_tar({"v": "1"})]))
    st.remove("example/base:1")
    (tmp_path / "img.tar").unlink()
    new = import_archive(st, "tool:1", _archive(tmp_path, [build.layer_tar({"v": "2"})]))
    assert new.id != old.id and not old.rootfs.exists()
    assert (st.lookup("tool:1").rootfs / "v").read_text() == "2"
    assert len(list((st.root / "blobs" / "sha256").iterdir())) == 2      # the new config and layer


def test_prune_deletes_images_no_name_points_at(tmp_path):
    st = ImageStore(tmp_path / "store")
    img = import_archive(st, "tool:1", _archive(tmp_path, [build.layer_tar({"v": "1"})]))
    assert st.prune() == []
    (st.root / "refs.json").write_text("{}")          # e.g. a crash between unpacking and naming
    assert st.prune() == [img.id] and not img.rootfs.exists()
    assert list((st.root / "blobs" / "sha256").iterdir()) == []
