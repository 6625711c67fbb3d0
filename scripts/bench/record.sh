#!/usr/bin/env bash
# record.sh NAME COMMAND [ARG...] — part of `make bench`: runs COMMAND,
# passing its output through, and when it succeeds writes its standard
# output into docs/performance.md (or $BENCH_DOC) between the lines
# `<!-- bench:NAME begin -->` and `<!-- bench:NAME end -->`, with the date,
# the commit and the machine it ran on. Figures are never pasted by hand.
# A failed COMMAND leaves the page as it was and exits with its status.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: record.sh NAME COMMAND [ARG...]" >&2; exit 2; }
name="$1"; shift
doc="${BENCH_DOC:-$(dirname "$0")/../../docs/performance.md}"
begin="<!-- bench:$name begin -->"
end="<!-- bench:$name end -->"
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" ||
	{ echo "record: $doc has no lines '$begin' and '$end'" >&2; exit 1; }

out="$(mktemp)"
trap 'rm -f "$out" "$out.doc" "$out.section"' EXIT
status=0
"$@" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
	echo "record: '$*' failed (exit $status): $doc left as it was" >&2
	exit "$status"
fi

commit="$(git describe --always --dirty 2>/dev/null || echo unknown)"
{
	echo "Recorded by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M') UTC, commit $commit, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
	echo
	echo '```text'
	sed -e 's/[[:space:]]*$//' "$out" | sed -e '/./,$!d'
	echo '```'
} >"$out.section"
awk -v begin="$begin" -v end="$end" -v section="$out.section" '
	$0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
	$0 == end { skip = 0 }
	!skip { print }
' "$doc" >"$out.doc"
cat "$out.doc" >"$doc"
echo "record: wrote the $name figures into $doc" >&2
