# SPDX-License-Identifier: GPL-2.0
# Reading NIC memory state: the counters, the results of nicmem-stream, the
# path to a peer. Sourced (never executed) by the guest tests
# (tests/vm/lib/env.sh), the benchmark (bench/measure.sh) and the hardware
# check (scripts/nicmem-hwcheck); bash and awk, and nicmem-state (built with
# the userspace workspace) for the netlink reads.

nicmem_field() { # nicmem_field <iface> <field>: netdev netlink nicmem-get (in-use, tx-bytes, ...); empty without a provider
	"$BIN/nicmem-state" "$1" "$2" || true
}

nicmem_debug_field() { # nicmem_debug_field <iface|-> <column>: from /sys/kernel/debug/nicmem ("-": a provider whose device is gone)
	awk -v d="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } $1 == d { print $col[c] }' /sys/kernel/debug/nicmem
}

tcpext() { # tcpext <name>: a TcpExt counter from /proc/net/netstat
	awk -v k="$1" '$1 == "TcpExt:" { if (!h) { split($0, n); h = 1 } else { for (i = 2; i <= NF; i++) if (n[i] == k) print $i } }' /proc/net/netstat
}

stream_sum() { # stream_sum <send|recv> <file>: "bytes sha256" of a nicmem-stream output
	sed -n "s/^$1 bytes=\([0-9]*\) sha256=\([0-9a-f]*\).*/\1 \2/p" "$2"
}

wait_ping() { # wait_ping <addr>: up to 10 s for an answer; fails without one
	local i
	for i in $(seq 1 50); do
		ping -c1 -W1 "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
