#!/usr/bin/env bash
# Makes DAGSTER_HOME (argument 1) exist and hold the repository's dagster.yaml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="$1"
mkdir -p "$home"
if [ -f "$root/dagster.yaml" ] && ! cmp -s "$root/dagster.yaml" "$home/dagster.yaml"; then
  cp "$root/dagster.yaml" "$home/dagster.yaml"
fi
