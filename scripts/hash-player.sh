#!/usr/bin/env bash
# Trunk's post-build hook: names the embed player's files after their contents, as trunk names
# the editor's (trunk leaves a "worker" build's names plain), so that a page with several
# players downloads it once and a new release is never served from an old cache.
set -euo pipefail
dir="${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
js="$dir/switchboard-player.js"
wasm="$dir/switchboard-player_bg.wasm"
[[ -f "$js" && -f "$wasm" ]] || { echo "hash-player: no player build in $dir" >&2; exit 1; }
hash=$(cat "$js" "$wasm" | sha256sum | cut -c1-16)
mv "$js" "$dir/switchboard-player-$hash.js"
mv "$wasm" "$dir/switchboard-player-${hash}_bg.wasm"
sed -i "s|switchboard-player\\.js|switchboard-player-$hash.js|g; s|switchboard-player_bg\\.wasm|switchboard-player-${hash}_bg.wasm|g" "$dir/index.html"
