#!/usr/bin/env bash
# Refreshes the vendored GOV.UK Frontend (docs/decisions/0009-design-system.md).
#
#   scripts/vendor_govuk_frontend.sh [VERSION]     # default: the version pinned below
#
# Needs npm only here, never to run the portal: it downloads the published package with
# `npm pack`, and copies the compiled CSS and JavaScript (with their source maps) and the
# licence into coordination/static/vendor/govuk-frontend/<VERSION>/, removing from the CSS
# only the @font-face rules of the font it does not copy. The GDS Transport font and
# the crown/crest images are deliberately NOT copied: they may only be used on GOV.UK services,
# and Concord is not one (concord.css sets the Arial/Helvetica stack instead).
# After a version change, update GOVUK_FRONTEND_VERSION in coordination/settings/base.py and
# remove the old directory.
set -euo pipefail

VERSION="${1:-5.14.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/coordination/static/vendor/govuk-frontend/$VERSION"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm pack --silent "govuk-frontend@$VERSION" >/dev/null && tar xzf "govuk-frontend-$VERSION.tgz")
PKG="$WORK/package"
test "$(node -p "require('$PKG/package.json').version")" = "$VERSION"

rm -rf "$DEST"
mkdir -p "$DEST"
for f in govuk-frontend.min.css govuk-frontend.min.css.map govuk-frontend.min.js govuk-frontend.min.js.map; do
  cp "$PKG/dist/govuk/$f" "$DEST/$f"
done
# The one change to the published files: the compiled CSS declares GDS Transport with two
# @font-face rules pointing at /assets/fonts/, files Concord does not ship (see above). Left
# in, any text the font override in concord.css missed would make the browser ask for them.
upstream_css="$(sha256sum "$PKG/dist/govuk/govuk-frontend.min.css" | cut -d' ' -f1)"
sed -E -i 's/@font-face\{font-family:GDS Transport;[^}]*\}//g' "$DEST/govuk-frontend.min.css"
if grep -q "assets/fonts" "$DEST/govuk-frontend.min.css"; then
  echo "GDS Transport @font-face rules still in the CSS: the release changed their form" >&2
  exit 1
fi
# The npm package declares MIT ("license" in package.json) but ships no licence file: write the
# upstream LICENSE.txt text (github.com/alphagov/govuk-frontend) beside the files.
cat > "$DEST/LICENCE.txt" <<'LICENCE'
The MIT License (MIT)

Copyright (c) 2018 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of
the Software, and to permit persons to whom the Software is furnished to do so,
subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
LICENCE
printf 'govuk-frontend %s from the npm registry (%s)\n' "$VERSION" \
  "$(node -p "require('$PKG/package.json').repository.url || ''")" > "$DEST/VERSION.txt"
printf 'upstream govuk-frontend.min.css %s (before the @font-face rules were removed)\n' \
  "$upstream_css" >> "$DEST/VERSION.txt"
(cd "$DEST" && sha256sum govuk-frontend.min.css govuk-frontend.min.js >> VERSION.txt)
echo "GOV.UK Frontend $VERSION vendored into $DEST"
