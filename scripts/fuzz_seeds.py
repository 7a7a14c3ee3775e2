"""Seeds for the glTF fuzz target: every small glTF scene given, made self-contained.

usage: python3 scripts/fuzz_seeds.py OUT_DIR SCENE_DIR...

External buffers and images are embedded as data: URIs (the fuzz target loads from
bytes alone); images over 16 KiB become a 1x1 PNG, and seeds over 256 KiB are left
out, so that each run of the target stays fast.
"""

import base64
import json
import pathlib
import sys

TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)


def embed(base: pathlib.Path, uri: str, mime: str, limit: int):
    if uri.startswith("data:"):
        return uri
    path = base / uri
    if not path.is_file() or path.stat().st_size > limit:
        return None
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for scene_dir in sys.argv[2:]:
        for path in sorted(pathlib.Path(scene_dir).rglob("*")):
            if path.suffix == ".glb" and path.stat().st_size < 1 << 20:
                (out / path.name).write_bytes(path.read_bytes())
            if path.suffix != ".gltf" or path.stat().st_size > 1 << 20:
                continue
            doc = json.loads(path.read_text())
            buffers = [embed(path.parent, b.get("uri", ""), "application/octet-stream", 1 << 20) for b in doc.get("buffers", [])]
            if None in buffers:
                continue
            for b, uri in zip(doc.get("buffers", []), buffers):
                b["uri"] = uri
            for image in doc.get("images", []):
                if "uri" in image:
                    image["uri"] = embed(path.parent, image["uri"], "image/png", 16 << 10) or f"data:image/png;base64,{TINY_PNG}"
            text = json.dumps(doc)
            if len(text) <= 256 << 10:
                (out / path.name).write_text(text)


if __name__ == "__main__":
    main()
