#!/usr/bin/env bash
# Renders deploy/helm/hapa with its default values into deploy/k8s/hapa.yaml, for users without Helm.
# `--stdout` prints instead of writing (test/helm-chart.e2e-spec.ts compares the two).
# helm: test/tools/bin/helm (bash test/tools/install.sh) or the one on PATH.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
helm="$root/test/tools/bin/helm"
[ -x "$helm" ] || helm=helm
render() {
  echo '# Rendered from deploy/helm/hapa (default values) by deploy/k8s/render.sh: do not edit by hand.'
  echo '# Before applying: create the Secret hapa-secrets and set the image (README, "Kubernetes").'
  "$helm" template hapa "$root/deploy/helm/hapa"
}
if [ "${1:-}" = "--stdout" ]; then render; else render > "$root/deploy/k8s/hapa.yaml"; fi
