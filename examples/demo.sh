#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The main demo, run inside the guest by 'scripts/nicmem demo': load the NIC
# memory provider, start an echo server behind the second NIC, send with
# MSG_NICMEM from the Python and the Rust echo clients, show the counters.
set -uo pipefail
source /nicmem/repo/tests/vm/lib/env.sh
PORT=7777

echo NICMEM-DEMO-BEGIN
(nicmem_net_setup) || {
	echo "network setup failed"
	echo NICMEM-DEMO-END
	exit 1
}
source /tmp/nicmem-ifaces
echo "# guest kernel $(uname -r); sender NIC $TX_IF ($TX_ADDR), receiver NIC $RX_IF ($RX_ADDR, namespace $RX_NS)"
echo "\$ insmod mlx5_nicmem.ko emu_ifindex=$(cat "/sys/class/net/$TX_IF/ifindex")"
load_module
dmesg | grep -E 'nicmem: [0-9]+ KiB of NIC memory|emulated NIC memory for|KiB of device memory' | sed 's/^\[[ 0-9.]*\] //'
rx python3 /nicmem/repo/examples/python/echo_server.py $PORT >/dev/null 2>&1 &
wait_listen $PORT
echo
echo "\$ python3 examples/python/echo_client.py $RX_ADDR $PORT 'hello from NIC memory'"
python3 /nicmem/repo/examples/python/echo_client.py "$RX_ADDR" $PORT "hello from NIC memory"
echo
echo "\$ nicmem-echo-client $RX_ADDR:$PORT 'and hello from Rust'"
"$BIN/nicmem-echo-client" "$RX_ADDR:$PORT" "and hello from Rust"
echo
echo "\$ nicmem-stream send $RX_ADDR:7778 --bytes 64M --flags nicmem"
rx "$BIN/nicmem-stream" recv 0.0.0.0:7778 >/tmp/demo-recv &
wait_listen 7778
"$BIN/nicmem-stream" send "$RX_ADDR:7778" --bytes 64M --flags nicmem
wait %2 2>/dev/null
grep recv /tmp/demo-recv
echo
echo "\$ ./tools/net/ynl/pyynl/cli.py --spec Documentation/netlink/specs/netdev.yaml --dump nicmem-get"
(cd /nicmem/work/linux && python3 tools/net/ynl/pyynl/cli.py --spec Documentation/netlink/specs/netdev.yaml --no-schema --dump nicmem-get)
echo
echo "\$ nstat -az 'TcpExtTCPNicmem*'"
nstat -az 'TcpExtTCPNicmem*' | grep -v '^#'
echo
echo "# Resident NIC memory: a memcached-protocol server keeps its values in an arena"
echo "# of NIC memory and sends them from there, by reference (no copy)."
echo "\$ nicmem-kv-server --listen $TX_ADDR:11211 --send resident --resident-dev $TX_IF &"
"$BIN/nicmem-kv-server" --listen "$TX_ADDR:11211" --send resident --resident-dev "$TX_IF" &
kvpid=$!
wait_local_listen 11211
head -c 65536 /dev/urandom >/tmp/hot.bin
echo "\$ memccp --servers=$TX_ADDR:11211 hot.bin      # Debian's libmemcached-tools, from the peer"
(cd /tmp && rx memccp --servers="$TX_ADDR:11211" hot.bin)
echo "\$ memccat --servers=$TX_ADDR:11211 hot.bin | head -c 65536 | sha256sum; sha256sum <hot.bin   # memccat adds a newline"
rx memccat --servers="$TX_ADDR:11211" hot.bin | head -c 65536 | sha256sum
sha256sum </tmp/hot.bin
tx0=$(tcpext TCPNicmemTxBytes) rs0=$(tcpext TCPNicmemResidentBytes)
echo "\$ nicmem-kv-load $TX_ADDR:11211 --value-size 65536 --keys 16 --requests 2000"
rx "$BIN/nicmem-kv-load" "$TX_ADDR:11211" --value-size 65536 --keys 16 --requests 2000
echo "# TcpExt during the load: TCPNicmemResidentBytes +$(($(tcpext TCPNicmemResidentBytes) - rs0)) (sent by reference)," \
	"TCPNicmemTxBytes +$(($(tcpext TCPNicmemTxBytes) - tx0)) (copied into NIC memory)"
echo "\$ ./tools/net/ynl/pyynl/cli.py --spec Documentation/netlink/specs/netdev.yaml --dump nicmem-get"
(cd /nicmem/work/linux && python3 tools/net/ynl/pyynl/cli.py --spec Documentation/netlink/specs/netdev.yaml --no-schema --dump nicmem-get)
kill "$kvpid" 2>/dev/null
wait "$kvpid" 2>/dev/null
echo NICMEM-DEMO-END
nicmem_cleanup >/dev/null 2>&1
