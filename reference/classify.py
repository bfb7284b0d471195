#!/usr/bin/env python3
"""Classify image files with the reference pipeline (Pillow + NumPy + onnxruntime), driven by an
imgfn model manifest. Prints the same JSON as `imgfn predict --json` (with --json), or, with
--golden, writes a golden file that `imgfn predict --golden` and `imgfn deploy --golden` check.

    python3 -m venv .venv && .venv/bin/pip install onnxruntime pillow numpy
    .venv/bin/python reference/classify.py --model model/model.json photos/*.jpg --json
    .venv/bin/python reference/classify.py --model model/model.json photos/*.jpg --golden golden.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imgfn_reference import Reference, sha256_file  # noqa: E402

DEFAULT_MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model", "model.json")


def golden_document(ref: Reference, files: list[str], entries: list[dict], top: int, output: str) -> dict:
    """The golden file format (src/golden/golden.ts reads it): what each file must answer. Paths
    are relative to the golden file's folder, so the two can be committed together."""
    golden_dir = os.path.dirname(os.path.abspath(output))
    records = []
    for path, entry in zip(files, entries):
        if "error" in entry:
            continue
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        records.append(
            {
                "file": os.path.relpath(os.path.abspath(path), golden_dir),
                "sha256": digest,
                "top": [{"index": p["index"], "label": p["label"], "score": p["score"]} for p in entry["predictions"]],
            }
        )
    return {
        "version": 1,
        "source": "reference",
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "model": {"id": ref.manifest["id"], "sha256": sha256_file(ref.weights)},
        "preprocess": {k: v for k, v in ref.manifest["preprocess"].items()},
        "topK": top,
        "files": records,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--model", default=DEFAULT_MANIFEST, help="imgfn model manifest (default: model/model.json)")
    parser.add_argument("--weights", help="the .onnx file (default: beside the manifest, imgfn's cache, $IMGFN_MODEL_MIRROR)")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as JSON, like `imgfn predict --json`")
    parser.add_argument("--golden", metavar="FILE", help="write a golden file for these images")
    parser.add_argument("--tensor-dir", metavar="DIR", help="also write each file's input tensor (raw float32) as DIR/<n>.f32")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be a positive integer")
    try:
        ref = Reference(args.model, args.weights, args.threads)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    entries = [ref.classify_file(path, args.top) for path in args.files]
    if args.tensor_dir:
        os.makedirs(args.tensor_dir, exist_ok=True)
        for n, path in enumerate(args.files):
            if "error" not in entries[n]:
                with open(path, "rb") as f:
                    tensor, _ = ref.tensor(f.read())
                tensor.astype("<f4").tofile(os.path.join(args.tensor_dir, f"{n}.f32"))
    if args.golden:
        with open(args.golden, "w") as f:
            json.dump(golden_document(ref, args.files, entries, args.top, args.golden), f, indent=2)
            f.write("\n")
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        for entry in entries:
            if "error" in entry:
                print(f"{entry['file']}  {entry['error']['code']}: {entry['error']['message']}")
                continue
            image = entry["image"]
            print(f"{entry['file']}  {image['width']}x{image['height']} {image['format']}")
            for rank, p in enumerate(entry["predictions"], 1):
                print(f"  {rank}. {p['score'] * 100:5.1f}%  {p['label']}  #{p['index']}")
    failed = sum(1 for e in entries if "error" in e)
    if failed:
        print(f"{failed} of {len(entries)} files could not be classified", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
