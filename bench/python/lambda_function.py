"""The Python Lambda function a user of the seeds would write instead of imgfn: boto3 + Pillow +
NumPy + onnxruntime (one intra-op thread), the model loaded at module scope (Lambda's init),
the ONNX Model Zoo preprocessing (shorter side 256 bilinear, centre crop 224, ImageNet mean/std),
results written beside the input as imgfn writes them. Benchmarked side by side with imgfn's
function (bench/src/python.ts); not part of imgfn.
"""

import io
import json
import os
import time
import urllib.parse

import boto3
import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

MODEL = os.environ["MODEL_PATH"]
LABELS = json.load(open(os.environ["LABELS_PATH"]))
INPUT_PREFIX = os.environ.get("INPUT_PREFIX", "uploads/")
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "results/")

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(MODEL, options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"))

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(data: bytes) -> np.ndarray:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    w, h = img.size
    scale = 256 / min(w, h)
    size = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize(size, Image.Resampling.BILINEAR)
    left, top = int(round((size[0] - 224) / 2.0)), int(round((size[1] - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    x = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    del scale
    return x.transpose(2, 0, 1)[np.newaxis].astype(np.float32)


def handler(event, context):
    results = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        t0 = time.perf_counter()
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        t1 = time.perf_counter()
        x = preprocess(body)
        t2 = time.perf_counter()
        logits = session.run(None, {input_name: x})[0][0]
        t3 = time.perf_counter()
        p = np.exp(logits - logits.max())
        p /= p.sum()
        top = np.argsort(-p)[:5]
        predictions = [{"label": LABELS[i], "index": int(i), "score": round(float(p[i]), 6)} for i in top]
        out_key = OUTPUT_PREFIX + key[len(INPUT_PREFIX):] + ".json"
        timings = {"download": (t1 - t0) * 1000, "preprocess": (t2 - t1) * 1000, "inference": (t3 - t2) * 1000}
        s3.put_object(Bucket=bucket, Key=out_key, Body=json.dumps({"predictions": predictions, "timings": timings}), ContentType="application/json")
        t4 = time.perf_counter()
        timings.update(upload=(t4 - t3) * 1000, total=(t4 - t0) * 1000)
        results.append({"key": key, "top1": predictions[0], "timings": timings})
    return {"results": results}
