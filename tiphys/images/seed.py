"""`python -m tiphys.images.seed FILE [NAME...]`: import a docker-archive into the system store
under every NAME (its own RepoTags when none is given), skipping names that already point at
this very image. Used by scripts/setup.d/36-registry.sh; prints one line per import.
"""
from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

from tiphys.errors import TiphysError
from tiphys.images import reference
from tiphys.images.archive import import_archive
from tiphys.images.store import ImageStore, system_store_path


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    file, names = Path(argv[0]), argv[1:]
    try:
        with tarfile.open(file) as tar:
            f = tar.extractfile("manifest.json")
            entry = json.loads(f.read())[0] if f else {}
    except (OSError, tarfile.TarError, KeyError, ValueError, IndexError) as exc:
        print(f"images: {file}: not a docker-archive: {exc}", file=sys.stderr)
        return 1
    names = names or list(entry.get("RepoTags") or [])
    image_id = Path(str(entry.get("Config", ""))).stem.split(":")[-1]
    store = ImageStore(system_store_path())
    try:
        missing = [n for n in names if (img := store.lookup(n)) is None or img.id != image_id]
        if missing:
            img = import_archive(store, missing[0], file)
            for name in missing[1:]:
                import_archive(store, name, file)
            print(f"images: {file.name} -> {', '.join(reference.parse(n).short for n in missing)}")
        store.prune()
    except TiphysError as exc:
        print(f"images: {file}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
