#!/bin/sh
# flag-score.sh: score a flagged group against the mask uvm-sim injected.
#
#   tests/flag-score.sh flagged.uvh5 truth.json [group]
#
# Reads the flags with h5dump (independently of uvmake's reader) and the
# injected defects from the truth file's "defects" (uvm-sim -D), and
# prints one line:
#   rfi=N recall=R clean=N false=F deadbad=N deadbad_flagged=N
# rfi: samples the simulator corrupted with RFI (rows of dead or bad
# antennas excluded); recall: the fraction of them flagged; clean: the
# other samples of good antennas; false: the fraction of them flagged;
# deadbad: samples of baselines with a dead or bad antenna, and how many
# are flagged. Channel indices: ascending frequency, as uvm-combine writes.
set -eu
f=$1 truth=$2 g=${3:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lzf=$(ls /usr/lib/*/liblzf.so.1 2>/dev/null | head -1)
vals() {
	LD_PRELOAD=$lzf h5dump -y -w 0 -d "$2" "$1" |
		awk '/DATA \{/{f=1;next} /^ *\}$/{f=0} f' | tr -d ' {}' | tr ',' '\n' | grep -v '^$'
}
nbls=$(vals "$f" /Header/Nbls)
nf=$(vals "$f" /Header/Nfreqs)
np=$(vals "$f" /Header/Npols)
vals "$f" /Header/ant_1_array | head -n "$nbls" >"$tmp/a1"
vals "$f" /Header/ant_2_array | head -n "$nbls" >"$tmp/a2"
LD_PRELOAD=$lzf h5dump -d /Data/flags -b NATIVE -o "$tmp/flags.bin" "$f" >/dev/null
jq -r --argjson g "$g" '.defects as $d |
	(($d.dead_antennas + $d.bad_antennas)[] | "A \(.)"),
	($d.rfi_channels[] | "C \(.channel)"),
	($d.rfi_bursts[] | select(.group == $g) | "T \(.time)"),
	($d.rfi_baselines[] | select(.group == $g) |
	 "B \(.ant_1) \(.ant_2) \(.time0) \(.time1) \(.chan0) \(.chan1)")' "$truth" >"$tmp/defects"
od -An -v -tu1 -w$((nf * np)) "$tmp/flags.bin" |
awk -v nbls="$nbls" -v np="$np" -v A1="$tmp/a1" -v A2="$tmp/a2" -v D="$tmp/defects" '
BEGIN {
	for (i = 0; (getline x < A1) > 0; i++) a1[i] = x
	for (i = 0; (getline x < A2) > 0; i++) a2[i] = x
	while ((getline l < D) > 0) {
		split(l, w, " ")
		if (w[1] == "A") skip[w[2]] = 1
		else if (w[1] == "C") chan[w[2]] = 1
		else if (w[1] == "T") burst[w[2]] = 1
		else { ne++; e1[ne] = w[2]; e2[ne] = w[3]; et0[ne] = w[4]; et1[ne] = w[5]; ec0[ne] = w[6]; ec1[ne] = w[7] }
	}
}
{
	r = NR - 1; t = int(r / nbls); b = r % nbls
	if ((a1[b] in skip) || (a2[b] in skip)) {
		for (k = 1; k <= NF; k++) { db++; dbf += ($k != 0) }
		next
	}
	# the events on this row, found once
	m = 0
	for (e = 1; e <= ne; e++)
		if (((a1[b] == e1[e] && a2[b] == e2[e]) || (a1[b] == e2[e] && a2[b] == e1[e])) &&
		    t >= et0[e] && t < et1[e]) {
			m++; lo[m] = ec0[e]; hi[m] = ec1[e]
		}
	if (t in burst) {
		for (k = 1; k <= NF; k++) { nr++; nrf += ($k != 0) }
		next
	}
	for (k = 1; k <= NF; k++) {
		c = int((k - 1) / np)
		rfi = (c in chan)
		for (e = 1; e <= m && !rfi; e++)
			rfi = c >= lo[e] && c < hi[e]
		if (rfi) { nr++; nrf += ($k != 0) } else { nc++; ncf += ($k != 0) }
	}
}
END {
	printf "rfi=%d recall=%.4f clean=%d false=%.4f deadbad=%d deadbad_flagged=%d\n",
	    nr, nr ? nrf / nr : 0, nc, nc ? ncf / nc : 0, db, dbf
}'
