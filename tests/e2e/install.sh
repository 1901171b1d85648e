#!/bin/sh
# make install puts every tool and man page under DESTDIR/PREFIX; uninstall
# removes them again; installed tools run and find nothing of the build.
. "$(dirname "$0")/../lib.sh"
dest=$TMPD/root
check 'make install PREFIX=/usr DESTDIR=...' '
	make -s -C "$TOP" install PREFIX=/usr DESTDIR="$dest" >/dev/null &&
	for b in "$TOP"/bin/ps-*; do test -x "$dest/usr/bin/$(basename "$b")" || exit 1; done &&
	test -f "$dest/usr/share/man/man1/ps-simulate.1" &&
	test -f "$dest/usr/share/man/man7/pulsestream.7"'
check 'installed ps-simulate runs' '
	"$dest/usr/bin/ps-simulate" --count 3 --seed 1 -q | wc -l | grep -qx 3'
check 'installed man page renders' '
	mandoc -Tutf8 "$dest/usr/share/man/man1/ps-simulate.1" | grep -q "simulate hospital patient events"'
check 'make uninstall removes them' '
	make -s -C "$TOP" uninstall PREFIX=/usr DESTDIR="$dest" >/dev/null &&
	test -z "$(find "$dest" -type f)"'
done_testing
