#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Resident NIC memory: an arena made on /dev/nicmem, mapped by its process,
# written once and sent from many times with MSG_NICMEM, by reference.
# - an object sent 1000 times on one connection, and 250 times on each of
#   four, arrives intact every time; no chunk is taken per send, no byte is
#   copied into NIC memory (counters), every byte is counted resident;
# - [heap | arena | heap] iovecs, plain and copy-path sends mixed on one
#   socket: intact, with the resident and copied bytes exactly the arena's
#   and the heap's;
# - sends from one address on one socket while what is mapped there
#   changes (arena, anonymous memory, another arena, no read permission,
#   a child process): each carries what is mapped there then, or fails as
#   a copy would (the socket's cache of where its payload lay follows);
# - the host changes the object's bytes in the NIC memory backing file: the
#   next send carries the new bytes (sent from NIC memory, by reference);
# - an arena unmapped and closed with its data in flight: the data arrives
#   intact although all the memory arenas may take is taken and
#   overwritten meanwhile (its chunks are not handed out again until
#   acknowledged), this is counted (arena-freed-in-flight), and arenas
#   cannot take more than half the device;
# - another process cannot map the arena nor send from it;
# - the per-user quota covers arenas;
# - the offer is withdrawn with resident data in flight: the next send
#   fails with ENXIO, the connection aborts, a write to the mapping SIGBUSes.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
RES=$NICMEM_REPO/tests/vm/lib/resident.py
RPIDS=()

recv_on() { # recv_on <port> [tcpx.py recv args...]: a hashing receiver in RX_NS
	rx python3 "$NICMEM_REPO/tests/vm/lib/tcpx.py" recv "$1" "${@:2}" >"/tmp/recv.$1" 2>&1 &
	RPIDS+=($!)
	wait_listen "$1"
}
recv_wait() {
	local p
	for p in "${RPIDS[@]}"; do
		wait "$p" || fail "a receiver failed: $(cat /tmp/recv.* | tail -n 5)"
	done
	RPIDS=()
}
resident() { # resident <name> <args...>: resident.py, its output in /tmp/res.<name>; fails on a FAIL check
	local name=$1 rc=0
	shift
	timeout 300 python3 "$RES" "$@" --state "$BIN/nicmem-state" --ifname "$TX_IF" >"/tmp/res.$name" 2>&1 || rc=$?
	log "$name: $(grep '^check' "/tmp/res.$name" | tr '\n' ';')"
	((rc != 124)) || fail "$name: still running after 300 s (stall): $(tail -n 5 "/tmp/res.$name")"
	((rc == 0)) || fail "$name: exit $rc: $(tail -n 8 "/tmp/res.$name")"
}
same_stream() { # same_stream <name> <port>: the sender's hash for <port> is the receiver's
	local s r
	s=$(sed -n "s/^\(port $2 \)\{0,1\}send \(bytes=[0-9]* sha256=[0-9a-f]*\).*/\2/p" "/tmp/res.$1" | head -n 1)
	r=$(sed -n 's/^recv \(bytes=[0-9]* sha256=[0-9a-f]*\).*/\1/p' "/tmp/recv.$2")
	[[ -n $s && $s == "$r" ]] || fail "$1: port $2: sent '$s' but received '$r'"
}
field() { nicmem_field "$TX_IF" "$1"; }

[[ -f $RES ]] || fail "missing $RES"
# The whole device to one user, so that "no chunk left" means held by skbs.
load_module user_quota_pct=100 || fail "insmod failed"
[[ -c /dev/nicmem ]] || fail "no /dev/nicmem (kernel without resident arenas?)"

# 1000 sends of one 4 KiB object, then 4 connections x 250.
allocs0=$(field allocs) tx0=$(field tx-bytes) res0=$(field resident-tx-bytes) mib0=$(tcpext TCPNicmemResidentBytes)
recv_on 7410
resident thousand send "$RX_ADDR" 7410 --object 4096 --repeat 1000
recv_wait
same_stream thousand 7410
recv_on 7411
recv_on 7412
recv_on 7413
recv_on 7414
resident four send "$RX_ADDR" 7411 7412 7413 7414 --object 4096 --repeat 250
recv_wait
for p in 7411 7412 7413 7414; do same_stream four $p; done
allocs=$(($(field allocs) - allocs0)) tx=$(($(field tx-bytes) - tx0))
res=$(($(field resident-tx-bytes) - res0)) mib=$(($(tcpext TCPNicmemResidentBytes) - mib0))
((allocs == 2)) || fail "$allocs chunks allocated for 2 arenas of one chunk and 2000 sends (one per send would be a copy)"
((tx == 0)) || fail "$tx bytes copied into NIC memory by resident sends"
((res == 2 * 4096000)) || fail "device counted $res resident bytes, not $((2 * 4096000))"
((mib == 2 * 4096000)) || fail "TcpExt TCPNicmemResidentBytes counted $mib, not $((2 * 4096000))"
[[ $(field arenas) == 0 ]] || fail "arenas left after their processes exited: $(field arenas)"
wait_in_use_zero "$TX_IF"
log "2000 sends x 4096 bytes from 2 arena chunks: intact, $res bytes resident, 0 copied"

# Mixed on one socket: [heap | arena | heap], then plain, then copy-path.
tx0=$(field tx-bytes)
recv_on 7415
resident mixed send "$RX_ADDR" 7415 --object 20000 --repeat 200 --mode mixed
recv_wait
same_stream mixed 7415
copied=$(sed -n 's/^nicmem bytes=\([0-9]*\).*/\1/p' /tmp/res.mixed)
(($(field tx-bytes) - tx0 == copied)) || fail "device counted $(($(field tx-bytes) - tx0)) copied bytes, the socket $copied"
wait_in_use_zero "$TX_IF"

# One address, one socket, what is mapped there changing between sends.
tx0=$(field tx-bytes)
recv_on 7422
resident remap remap "$RX_ADDR" 7422
recv_wait
same_stream remap 7422
(($(field tx-bytes) - tx0 == 4096)) || fail "remap: device counted $(($(field tx-bytes) - tx0)) copied bytes, not the 4096 sent from anonymous memory"
wait_in_use_zero "$TX_IF"

# The host changes the object in the backing file: the next send has it.
recv_on 7416 --out /tmp/data.7416
old=$(python3 -c 'import hashlib;print(hashlib.shake_256(b"416").digest(64).hex())')
new=$(printf '%-64s' 'changed on the host, in the resident object' | od -An -tx1 -v | tr -d ' \n')
rm -f /tmp/go.7416
python3 "$RES" twice "$RX_ADDR" 7416 --object 4096 --seed 416 --go /tmp/go.7416 >/tmp/res.twice 2>&1 &
spid=$!
for _ in $(seq 1 300); do grep -q '^sent once' /tmp/res.twice && break; sleep 0.1; done
grep -q '^sent once' /tmp/res.twice || fail "twice: first send not done: $(cat /tmp/res.twice)"
[[ $(host_has_pattern "$old") == found ]] || fail "the object written through the mapping is not in the NIC memory backing file"
res=$(host_patch "$old" "$new")
[[ $res == "patched 1" ]] || fail "the object is not in NIC memory exactly once: $res"
touch /tmp/go.7416
wait_pid_for "$spid" 60 || fail "twice: sender stalled"
wait "$spid" || fail "twice: $(cat /tmp/res.twice)"
recv_wait
got=$(python3 -c 'import sys;d=open("/tmp/data.7416","rb").read();print(len(d), d[:64].hex(), d[4096:4096+64].hex())')
[[ $got == "8192 $old $new" ]] || fail "receiver got '$got', not the old object then the one changed in NIC memory"
log "the host changed the object in NIC memory; the next send carried the change"
wait_in_use_zero "$TX_IF"

# Unmapped and closed with its data in flight.
freed0=$(field arena-freed-in-flight)
recv_on 7417 --rcvbuf 65536 --delay 6
resident free free "$RX_ADDR" 7417 --bytes $((1 << 20))
recv_wait
same_stream free 7417
freed=$(($(field arena-freed-in-flight) - freed0))
((freed > 0)) || fail "no arena chunk counted as freed in flight"
wait_in_use_zero "$TX_IF"
log "arena closed with data in flight: intact, $freed chunks held by skbs until acknowledged"

# Another process.
recv_on 7418
resident owner owner "$RX_ADDR" 7418
kill "${RPIDS[@]}" 2>/dev/null || true
wait "${RPIDS[@]}" 2>/dev/null || true
RPIDS=()
no_kernel_problem

# The quota covers arenas.
unload_module || fail "rmmod failed"
load_module user_quota_pct=25 || fail "insmod failed"
recv_on 7419
resident quota quota "$RX_ADDR" 7419 --pct 25 --bytes $((256 << 10))
recv_wait
same_stream quota 7419
wait_in_use_zero "$TX_IF"

# Revoked with resident data in flight.
ivshmem=$(ivshmem_device) || fail "no ivshmem-plain device"
drv=/sys/bus/pci/drivers/nicmem_ivshmem
lost0=$(tcpext TCPNicmemLost)
recv_on 7420 --rcvbuf 65536 --delay 60
recv_on 7421
rm -f /tmp/go.7420
python3 "$RES" revoke "$RX_ADDR" 7420 7421 --bytes $((4 << 20)) --go /tmp/go.7420 >/tmp/res.revoke 2>&1 &
spid=$!
for _ in $(seq 1 300); do grep -q '^queued' /tmp/res.revoke && break; sleep 0.1; done
grep -q '^queued' /tmp/res.revoke || fail "revoke: nothing queued: $(cat /tmp/res.revoke)"
[[ $(field arenas) == 1 ]] || fail "no arena before the revocation: $(debug_providers)"
dmesg -C
timeout 30 sh -c "echo $ivshmem >$drv/unbind" || fail "unbind did not return within 30 s"
dmesg | grep -q 'resident arenas revoked' || fail "no arena revoked: $(dmesg | grep -i nicmem | tail -5)"
touch /tmp/go.7420
wait_pid_for "$spid" 90 || fail "revoke: sender still running 90 s after the revocation"
rc=0
wait "$spid" || rc=$?
log "revoke: $(grep '^check' /tmp/res.revoke | tr '\n' ';') exit $rc"
grep -q 'FAIL' /tmp/res.revoke && fail "revoke: $(grep FAIL /tmp/res.revoke)"
grep -q '^check send-after-revoke ok' /tmp/res.revoke || fail "revoke: $(cat /tmp/res.revoke)"
grep -q '^check in-flight-aborted ok' /tmp/res.revoke || fail "revoke: $(cat /tmp/res.revoke)"
((rc == 128 + 7)) || fail "revoke: a write to the revoked mapping did not end with SIGBUS (exit $rc)"
(($(tcpext TCPNicmemLost) > lost0)) || fail "TcpExt TCPNicmemLost did not count the aborted connection"
peer_reset 7420
kill "${RPIDS[@]}" 2>/dev/null || true
wait "${RPIDS[@]}" 2>/dev/null || true
echo "$ivshmem" >"$drv/bind" || fail "bind failed"
has_provider "$TX_IF" || fail "no provider after the offer was made again"
no_kernel_problem
log "resident arenas: intact, by reference, owned, quota-bound, revocable"
