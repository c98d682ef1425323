#!/usr/bin/env bash
# Fails on an include that points up the layers. Each layer may include itself and the layers
# before it, as the arrows say: engine <- formats, distributed <- nn <- gait <- data <- pipeline
# <- tools (formats and distributed both stand on the engine alone). tests/ and bench/ may
# include anything. usage: tools/check-layers.sh (from anywhere; exit 1 with the offending lines)
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [engine]="engine"
  [formats]="engine formats"
  [distributed]="engine distributed"
  [nn]="engine formats distributed nn"
  [gait]="engine formats distributed nn gait"
  [data]="engine formats distributed nn gait data"
  [pipeline]="engine formats distributed nn gait data pipeline"
  [tools]="engine formats distributed nn gait data pipeline tools"
)
bad=0
for layer in "${!allowed[@]}"; do
  while IFS= read -r hit; do
    [ -n "$hit" ] || continue
    target=$(sed -E 's/.*#[[:space:]]*include[[:space:]]*["<]([a-z_]+)\/.*/\1/' <<< "$hit")
    [ -n "${allowed[$target]:-}" ] || continue  # not a layer (a system or generated header)
    if ! grep -qw "$target" <<< "${allowed[$layer]}"; then
      echo "layers: $hit: $layer may include only ${allowed[$layer]}"
      bad=1
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][a-z_]+/' "$layer" \
    --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' || true)
done
[ "$bad" = 0 ] && echo "layers: every include points down ($(echo "${!allowed[@]}" | wc -w) layers)"
exit "$bad"
