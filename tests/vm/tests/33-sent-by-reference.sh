#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Proof that the NIC transmits from NIC memory, not from a copy in host
# memory: while a MSG_NICMEM stream's tail is queued (the receiver has not
# read yet), the host overwrites those bytes in the NIC memory backing file;
# the receiver gets the overwritten bytes. A plain stream under the same
# change arrives unchanged.
source "$(dirname "$0")/../lib/env.sh"
source "$(dirname "$0")/../lib/xstream.sh"
BYTES=$((2 << 20))
load_module || fail "insmod failed"
off=$((BYTES - 8192))
new=$(printf '%-64s' 'changed on the host, in NIC memory, while queued' | od -An -tx1 -v | tr -d ' \n')
for flags in nicmem plain; do
	port=$([[ $flags == nicmem ]] && echo 7330 || echo 7331)
	seed=$([[ $flags == nicmem ]] && echo 3301 || echo 3302)
	old=$("$BIN/nicmem-stream" pattern - --seed "$seed" --offset $off --len 64)
	rx python3 "$NICMEM_REPO/tests/vm/lib/tcpx.py" recv "$port" --rcvbuf 65536 --delay 6 --out "/tmp/data.$port" \
		>"/tmp/recv.$port" 2>&1 &
	rpid=$!
	wait_listen "$port"
	"$BIN/nicmem-stream" send "$RX_ADDR:$port" --bytes $BYTES --flags "$flags" --seed "$seed" \
		--sndbuf 8388608 >"/tmp/send.$port" 2>&1 &
	spid=$!
	if [[ $flags == nicmem ]]; then
		# Until the whole stream sits in NIC memory (32 chunks, one of
		# which the receiver's window may have freed).
		wait_in_use "$TX_IF" 31 >/dev/null
	else
		sleep 3
	fi
	res=$(host_patch "$old" "$new")
	log "$flags: host patch of the queued tail: $res"
	wait "$spid" || fail "$flags: sender failed: $(cat "/tmp/send.$port")"
	wait "$rpid" || fail "$flags: receiver failed"
	got=$(python3 -c "import sys;d=open(sys.argv[1],'rb').read();print(d[$off:$off+64].hex())" "/tmp/data.$port")
	if [[ $flags == nicmem ]]; then
		[[ $res == "patched 1" ]] || fail "the queued tail was not in NIC memory ($res)"
		[[ $got == "$new" ]] || fail "receiver got $got, not the bytes the host wrote into NIC memory"
	else
		[[ $res == "patched 0" ]] || fail "plain stream's bytes found in NIC memory ($res)"
		check_stream "$port" $BYTES
	fi
done
log "NIC memory stream carried the bytes changed in NIC memory; the plain stream was unchanged"
wait_in_use_zero "$TX_IF"
