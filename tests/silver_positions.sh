#!/bin/sh
# silver_positions.sh LAKE [STREAM]: the positions silver committed, as
# the silver Delta table's txn actions hold them (lib/lake.h): one JSON
# object {"SOURCE": POSITION, ...}, the highest version per appId
# "ps-silver/STREAM/SOURCE" over every commit file of the log.  {} when
# the table has no txn.
stream=${2:-admissions}
log=$1/silver/$stream/_delta_log
set -- "$log"/0*.json
[ -e "$1" ] || { echo '{}'; exit 0; }
cat "$@" | jq -cS --arg p "ps-silver/$stream/" -s '
	[.[] | .txn | select(. != null and (.appId | startswith($p)))] |
	group_by(.appId) |
	map({key: (.[0].appId | ltrimstr($p)), value: (map(.version) | max)}) |
	from_entries'
