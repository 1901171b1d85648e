#!/bin/sh
# puppeteer-core (npm, a pinned version) driving the Debian chromium, for
# the browser tests of ps-dash.  puppeteer-core never downloads a browser;
# the one it drives is /usr/bin/chromium (scripts/deps.sh installs it).
#
#   scripts/puppeteer.sh install    install the package (once) into
#                                   ${PS_CACHE:-$HOME/.cache/pulsestream}/puppeteer
#   scripts/puppeteer.sh env        print shell assignments: NODE_PATH (where
#                                   the package is), PS_CHROMIUM (the browser)
#   eval "$(scripts/puppeteer.sh env)"   install if needed, then set them
#
# A test starts the browser with the flags in tests/e2e/dash_browser.js:
# headless, no sandbox, no GPU, a fresh profile, and everything that would
# reach Google (QUIC, background networking, component updates, sync) off.
set -eu
cache=${PS_CACHE:-${HOME:-/tmp}/.cache/pulsestream}/puppeteer
version=24.43.1

die() {
	echo "puppeteer.sh: $*" >&2
	exit 1
}

install() {
	[ -f "$cache/node_modules/puppeteer-core/package.json" ] &&
		grep -q "\"version\": \"$version\"" \
			"$cache/node_modules/puppeteer-core/package.json" &&
		return 0
	command -v npm >/dev/null 2>&1 || die "npm not found (scripts/deps.sh installs it)"
	mkdir -p "$cache"
	echo "puppeteer.sh: installing puppeteer-core@$version into $cache" >&2
	# puppeteer-core has no browser download; the variables make sure.
	PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_DOWNLOAD=1 \
		npm install --prefix "$cache" --no-audit --no-fund \
		--loglevel=error "puppeteer-core@$version" >&2 ||
		die "npm install puppeteer-core failed"
}

find_chromium() {
	for c in chromium chromium-browser; do
		p=$(command -v "$c" 2>/dev/null) && { echo "$p"; return 0; }
	done
	die "chromium not found (scripts/deps.sh installs it)"
}

case ${1:-} in
install)
	install
	;;
env)
	install
	echo "NODE_PATH='$cache/node_modules'; export NODE_PATH"
	echo "PS_CHROMIUM='$(find_chromium)'; export PS_CHROMIUM"
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 64
	;;
esac
