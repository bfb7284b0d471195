# syntax=docker/dockerfile:1
# The function image, built with Docker: the same layout the daemonless builder (imgfn build
# --builder oci) writes. `imgfn build --builder docker` prepares the build context:
#   package.json, package-lock.json   the function's dependencies only (onnxruntime-node, sharp)
#   dist/function/                    the bundled handler (npm run build)
#   model/                            model.json, labels.json and the weights
# and runs: docker buildx build --platform linux/<amd64|arm64> --provenance=false --sbom=false
# (Lambda refuses image indexes and attestation manifests).
ARG BASE_IMAGE=public.ecr.aws/lambda/nodejs:22

# Install on the target platform (this stage runs as linux/<arch>, emulated when crossing), so
# npm picks sharp's linux/<arch> glibc packages; onnxruntime-node's install script would download
# GPU libraries, which the CPU function does not need.
FROM public.ecr.aws/docker/library/node:22-bookworm-slim AS deps
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /build
COPY package.json package-lock.json* ./
RUN if [ -f package-lock.json ]; then npm ci --omit=dev --no-audit --no-fund; else npm install --omit=dev --no-audit --no-fund; fi
# Keep linux/<arch> natives only, and nothing the function never reads.
RUN set -eu; \
    arch=$(node -p process.arch); \
    cd node_modules; \
    for d in onnxruntime-node/bin/napi-v*/*; do [ "$(basename "$d")" = linux ] || rm -rf "$d"; done; \
    for d in onnxruntime-node/bin/napi-v*/linux/*; do [ "$(basename "$d")" = "$arch" ] || rm -rf "$d"; done; \
    rm -rf onnxruntime-node/script onnxruntime-node/lib sharp/src sharp/install adm-zip global-agent; \
    for d in @img/sharp-*; do \
      case "$d" in "@img/sharp-linux-$arch"|"@img/sharp-libvips-linux-$arch") ;; *) rm -rf "$d" ;; esac; \
    done; \
    find . \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.ts' \
      -o -name '*.md' -o -name '*.h' -o -name '*.cc' -o -name '*.cpp' -o -name '*.gyp' \) -type f -delete; \
    rm -rf .bin .package-lock.json

FROM ${BASE_IMAGE}
WORKDIR /var/task
# $HOME is read-only on Lambda: onnxruntime would warn on every cold start that it cannot persist its telemetry id
ENV ORT_DISABLE_TELEMETRY=1
# stacks in the logs name handler/*.ts lines (index.mjs.map ships beside the bundle)
ENV NODE_OPTIONS=--enable-source-maps
# Ordered by how often they change: dependencies, model, handler.
COPY --from=deps /build/node_modules /var/task/node_modules
COPY model/ /var/task/model/
COPY dist/function/ /var/task/
CMD ["index.handler"]
