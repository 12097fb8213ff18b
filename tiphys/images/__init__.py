"""The local image store: images imported from archives or pulled from registries, unpacked
into root filesystems that the sandbox executor runs steps on.

- `reference`: image names as Docker spells them (pure)
- `config`: ENTRYPOINT/CMD/ENV/WorkingDir/User of an image (pure)
- `layers`: unpacking layer tars with whiteouts
- `store`: blobs, root filesystems and names on disk; where stores live
- `archive`: `docker save` / OCI layout import
- `registry`: OCI distribution API pull (httpx)
- `build`: writing small image archives (test images; a busybox image from the host)
- `seed`: `python -m tiphys.images.seed FILE NAME...` (setup: import into the system store)

See README.md here for the layout, the lookup order and the sandbox executor's semantics.
"""
