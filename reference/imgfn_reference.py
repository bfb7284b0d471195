"""The reference pipeline: an imgfn model manifest's preprocessing in Pillow and NumPy, run with
onnxruntime. It is what a notebook does (torchvision's Resize + CenterCrop + ToTensor + Normalize,
written out), so it is what imgfn's function is checked against (parity tests, golden files).

Decoding, stated once (imgfn's handler/classify.ts does the same):
- first frame only; upright from the EXIF orientation (ImageOps.exif_transpose);
- transparency (RGBA, LA, PA, or a palette/greyscale/RGB image with a transparent colour) is
  composited over black: each channel becomes floor(channel * alpha / 255), as libvips does;
- greyscale is copied to the three channels;
- 16-bit samples keep their high byte (v >> 8), as Pillow itself loads 16-bit RGB PNGs;
- an embedded ICC profile is ignored (Pillow does not apply it).

Preprocessing, from the manifest's "preprocess": the shorter side is resized to `resize` with
Pillow's `filter` (torchvision: the longer side is int(resize * long / short)), the centre
`crop`×`crop` is cut (offset int(round((size - crop) / 2)), Python's round half to even), pixels
are multiplied by `scale`, then (x - mean) / std, in `channelOrder`, in `layout`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

PREPROCESS_DEFAULTS = {
    "resize": 256,
    "crop": 224,
    "scale": 1 / 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "channelOrder": "RGB",
    "layout": "NCHW",
    "filter": "bilinear",
}


class ImageInputError(Exception):
    """A problem with the image itself, with imgfn's error codes."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def load_manifest(path: str | os.PathLike) -> dict:
    """The manifest with the same defaults imgfn fills in (handler/manifest.ts), plus its labels."""
    path = Path(path)
    manifest = json.loads(path.read_text())
    manifest["preprocess"] = {**PREPROCESS_DEFAULTS, **manifest.get("preprocess", {})}
    if manifest["preprocess"]["filter"] not in FILTERS:
        raise ValueError(f'{path}: "preprocess.filter" must be one of {", ".join(FILTERS)}')
    manifest.setdefault("output", {}).setdefault("kind", "logits")
    labels_path = path.parent / manifest["labels"]
    text = labels_path.read_text().strip()
    manifest["_labels"] = json.loads(text) if text.startswith("[") else [line.strip() for line in text.splitlines()]
    manifest["_dir"] = str(path.parent)
    return manifest


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_weights(manifest: dict, explicit: str | None = None) -> str:
    """--weights, else beside the manifest, imgfn's cache, or $IMGFN_MODEL_MIRROR."""
    name = manifest["file"]
    candidates = [explicit] if explicit else []
    candidates.append(os.path.join(manifest["_dir"], name))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if manifest.get("sha256"):
        candidates.append(os.path.join(cache, "imgfn", "models", manifest["sha256"], name))
    if os.environ.get("IMGFN_MODEL_MIRROR"):
        candidates.append(os.path.join(os.environ["IMGFN_MODEL_MIRROR"], name))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"weights {name} not found (looked in: {', '.join(c for c in candidates if c)}); "
        "pass --weights, or run `imgfn model fetch`"
    )


def _high_byte(img: Image.Image) -> Image.Image:
    """16-bit greyscale ("I;16*", "I") to 8-bit by keeping the high byte."""
    arr = np.asarray(img).astype(np.uint32)
    return Image.fromarray((arr >> 8).clip(0, 255).astype(np.uint8), "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright, alpha over black, 8-bit RGB (see the module's docstring)."""
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I;16") or img.mode == "I":
        img = _high_byte(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return img.convert("RGB")
    rgba = np.asarray(img.convert("RGBA")).astype(np.uint32)
    alpha = rgba[..., 3:4]
    rgb = (rgba[..., :3] * alpha) // 255  # floor(c * a / 255), as libvips flattens
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def decode(data: bytes) -> tuple[Image.Image, dict]:
    """Bytes → upright 8-bit RGB image, and {format, width, height} as imgfn reports them."""
    import io

    if len(data) == 0:
        raise ImageInputError("EMPTY_OBJECT", "the file is empty (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        img.seek(0)
        fmt = (img.format or "unknown").lower()
        rgb = to_rgb(img)
    except ImageInputError:
        raise
    except Exception as err:  # Pillow raises many kinds for unreadable data
        raise ImageInputError("CORRUPT_IMAGE", f"the image could not be decoded: {err}") from err
    return rgb, {"format": fmt, "width": rgb.width, "height": rgb.height}


def preprocess(img: Image.Image, pre: dict) -> np.ndarray:
    """The manifest's resize → centre crop → scale → mean/std → order → layout, as float32."""
    resize, crop = int(pre["resize"]), int(pre["crop"])
    w, h = img.size
    short, long = min(w, h), max(w, h)
    new_long = int(resize * long / short)
    size = (resize, new_long) if w <= h else (new_long, resize)
    img = img.resize(size, FILTERS[pre["filter"]])
    left = int(round((size[0] - crop) / 2.0))
    top = int(round((size[1] - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    x = np.asarray(img, dtype=np.float32) * np.float32(pre["scale"])
    x = (x - np.asarray(pre["mean"], dtype=np.float32)) / np.asarray(pre["std"], dtype=np.float32)
    if pre["channelOrder"] == "BGR":
        x = x[..., ::-1]
    x = x.transpose(2, 0, 1) if pre["layout"] == "NCHW" else x
    return np.ascontiguousarray(x[np.newaxis], dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits.astype(np.float64) - logits.max())
    return e / e.sum()


def top_k(probs: np.ndarray, labels: list[str], k: int) -> list[dict]:
    order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:k]
    return [
        {"label": labels[i] if i < len(labels) else f"class {i}", "index": int(i), "score": round(float(probs[i]), 6)}
        for i in order
    ]


class Reference:
    """One onnxruntime session (one intra-op thread, like imgfn's function) for a manifest."""

    def __init__(self, manifest_path: str, weights: str | None = None, threads: int = 1):
        import onnxruntime as ort

        self.manifest = load_manifest(manifest_path)
        self.weights = find_weights(self.manifest, weights)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(self.weights, options, providers=["CPUExecutionProvider"])
        self.input_name = self.manifest.get("input", {}).get("name") or self.session.get_inputs()[0].name
        self.output_name = self.manifest["output"].get("name") or self.session.get_outputs()[0].name

    def tensor(self, data: bytes) -> tuple[np.ndarray, dict]:
        img, info = decode(data)
        return preprocess(img, self.manifest["preprocess"]), info

    def classify_bytes(self, data: bytes, top: int = 5) -> dict:
        t0 = time.perf_counter()
        x, info = self.tensor(data)
        t1 = time.perf_counter()
        (scores,) = self.session.run([self.output_name], {self.input_name: x})
        t2 = time.perf_counter()
        scores = scores.reshape(-1)
        probs = softmax(scores) if self.manifest["output"]["kind"] == "logits" else scores
        return {
            "predictions": top_k(probs, self.manifest["_labels"], top),
            "image": info,
            "timings": {"preprocess": round((t1 - t0) * 1000, 2), "inference": round((t2 - t1) * 1000, 2)},
        }

    def classify_file(self, path: str, top: int = 5) -> dict:
        """One entry shaped like `imgfn predict --json`'s."""
        started = time.perf_counter()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {"file": path, "error": {"code": "FILE_NOT_FOUND", "message": f"no such file: {path}"}}
        except IsADirectoryError:
            return {"file": path, "error": {"code": "IS_A_DIRECTORY", "message": f"{path} is a folder; pass image files"}}
        read = round((time.perf_counter() - started) * 1000, 2)
        try:
            result = self.classify_bytes(data, top)
        except ImageInputError as err:
            return {"file": path, "error": {"code": err.code, "message": str(err)}}
        return {
            "file": path,
            "predictions": result["predictions"],
            "image": result["image"],
            "timings": {"read": read, **result["timings"]},
        }
