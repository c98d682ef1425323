#!/usr/bin/env bash
# The report in a real browser: headless Chromium opens it (--dump-dom: the DOM holds the
# figures; console errors fail), and its screenshot is not blank (larger than a blank page's by
# far). Skipped (77) where Chromium is absent (Debian: chromium; .ci/run installs it).
#   report_browser.sh RMGAIT WORKDIR
set -euo pipefail
rmgait=$1 work=$2
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "chromium not found: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# a tiny run: SynGait, a few steps, its evaluation
"$rmgait" synth syn.pack --subjects 26 --frames 12 --seed 5 --aligned 2> /dev/null
cat > run.yaml << 'YAML'
data_cfg:
  dataset: syn.pack
  protocol: casiab-st
model_cfg:
  block: plain
  channels: [2, 4, 8]
trainer_cfg:
  total_iter: 6
  sampler: [4, 2]
  frames: 8
  log_iter: 1
  output_dir: run
YAML
"$rmgait" train --config run.yaml > train.txt 2>&1 || { cat train.txt; exit 1; }
"$rmgait" report run --out report.html
flags=(--headless --no-sandbox --disable-gpu --no-first-run --window-size=1280,2000)
timeout 120 "$browser" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom \
  "file://$PWD/report.html" > dom.html 2> console.txt || { cat console.txt; exit 1; }
if grep -E "CONSOLE|Uncaught" console.txt; then echo "console errors"; exit 1; fi
cells=$(grep -o 'class="cell' dom.html | wc -l)
curves=$(grep -o 'class="curve"' dom.html | wc -l)
echo "DOM: $cells heatmap cells, $curves curves"
[ "$cells" -eq 363 ] && [ "$curves" -eq 5 ] || { echo "figures missing from the DOM"; exit 1; }
timeout 120 "$browser" "${flags[@]}" --screenshot="$PWD/shot.png" "file://$PWD/report.html" \
  > /dev/null 2>&1
echo '<html><body></body></html>' > blank.html
timeout 120 "$browser" "${flags[@]}" --screenshot="$PWD/blank.png" "file://$PWD/blank.html" \
  > /dev/null 2>&1
shot=$(stat -c %s shot.png) blank=$(stat -c %s blank.png)
echo "screenshot $shot bytes, blank page $blank bytes"
[ "$shot" -gt $((blank * 5)) ] || { echo "the screenshot looks blank"; exit 1; }
