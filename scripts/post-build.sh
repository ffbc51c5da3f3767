#!/usr/bin/env bash
# Trunk's post-build hook, on the staged site:
# - names the embed player's files after their contents, as trunk names the editor's (trunk
#   leaves a "worker" build's names plain), so that a page with several players downloads it
#   once and a new release is never served from an old cache;
# - writes the examples' names into the page's loader, which preloads the document a URL's
#   `?example=` asks for beside the wasm (only a known one: an unknown name is the app's to
#   report, not a failed request's).
set -euo pipefail
dir="${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
js="$dir/switchboard-player.js"
wasm="$dir/switchboard-player_bg.wasm"
[[ -f "$js" && -f "$wasm" ]] || { echo "post-build: no player build in $dir" >&2; exit 1; }
hash=$(cat "$js" "$wasm" | sha256sum | cut -c1-16)
mv "$js" "$dir/switchboard-player-$hash.js"
mv "$wasm" "$dir/switchboard-player-${hash}_bg.wasm"
bad=$(cd "$dir/examples" && ls -- *.json | sed 's/\.json$//' | grep -v '^[a-z0-9-]\+$' || true)
[[ -z "$bad" ]] || { echo "post-build: example names must be lowercase letters, digits and dashes: $bad" >&2; exit 1; }
names=$(cd "$dir/examples" && ls -- *.json | sed 's/\.json$//' | sed 's/.*/"&"/' | paste -sd, -)
[[ -n "$names" ]] || { echo "post-build: no examples in $dir/examples" >&2; exit 1; }
sed -i "s|switchboard-player\\.js|switchboard-player-$hash.js|g; s|switchboard-player_bg\\.wasm|switchboard-player-${hash}_bg.wasm|g; s|__SWITCHBOARD_EXAMPLES__|[$names]|" "$dir/index.html"
grep -q "__SWITCHBOARD_EXAMPLES__" "$dir/index.html" && { echo "post-build: the loader's example list was not written" >&2; exit 1; }
exit 0
