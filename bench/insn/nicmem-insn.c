// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nicmem-insn: a QEMU TCG plugin that counts the instructions the guest
 * executes, per vCPU, kernel and user apart, and writes the running counts
 * each time the guest executes a marker instruction. The benchmark puts a
 * marker before and after the work it measures; the difference of two
 * marks is the work done in between, on every vCPU, without sampling and
 * without the noise of a clock.
 *
 * The marker is a 7-byte no-op no compiler emits, "nopl 0x4e4dTTTT(%rax)"
 * (0f 1f 80 TT TT 4d 4e): the high half of its displacement is "NM", the
 * low half a tag the guest chooses (bench/sender: 1 = start, 2 = end).
 *
 * Kernel and user are told apart by the address of the translation block:
 * x86-64 kernel text lies in the upper half of the address space.
 *
 * Arguments: out=<file> (the marks, appended; default: QEMU's log).
 * Output, one line per marker executed:
 *   mark <seq> <tag> <vcpu> <nvcpus> <kernel0> <user0> <kernel1> <user1> ...
 *
 * Built against the qemu-plugin.h of the QEMU that loads it
 * (scripts/lib/bench.sh takes it from Debian's qemu source package).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARK_MAGIC 0x4e4du

struct vcpu_insns {
	uint64_t kernel;
	uint64_t user;
};

static struct qemu_plugin_scoreboard *counts;
static qemu_plugin_u64 kernel_insns, user_insns;
static FILE *out;
static GMutex out_lock;
static uint64_t seq;

static void mark(unsigned int vcpu, void *udata)
{
	unsigned int tag = GPOINTER_TO_UINT(udata);
	int n = qemu_plugin_num_vcpus();
	GString *line = g_string_new(NULL);

	g_mutex_lock(&out_lock);
	g_string_printf(line, "mark %" PRIu64 " %u %u %d", seq++, tag, vcpu, n);
	for (int i = 0; i < n; i++)
		g_string_append_printf(line, " %" PRIu64 " %" PRIu64,
				       qemu_plugin_u64_get(kernel_insns, i),
				       qemu_plugin_u64_get(user_insns, i));
	g_string_append_c(line, '\n');
	if (out) {
		fputs(line->str, out);
		fflush(out);
	} else {
		qemu_plugin_outs(line->str);
	}
	g_mutex_unlock(&out_lock);
	g_string_free(line, TRUE);
}

/* The tag of a marker instruction, or -1. */
static int marker_tag(struct qemu_plugin_insn *insn)
{
	uint8_t b[7];

	if (qemu_plugin_insn_size(insn) != sizeof(b) ||
	    qemu_plugin_insn_data(insn, b, sizeof(b)) != sizeof(b))
		return -1;
	if (b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80 ||
	    (b[5] | b[6] << 8) != MARK_MAGIC)
		return -1;
	return b[3] | b[4] << 8;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	bool kernel = qemu_plugin_tb_vaddr(tb) >> 63;

	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
		tb, QEMU_PLUGIN_INLINE_ADD_U64,
		kernel ? kernel_insns : user_insns, n);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		int tag = marker_tag(insn);

		if (tag >= 0)
			qemu_plugin_register_vcpu_insn_exec_cb(
				insn, mark, QEMU_PLUGIN_CB_NO_REGS,
				GUINT_TO_POINTER(tag));
	}
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
	if (out)
		fclose(out);
	qemu_plugin_scoreboard_free(counts);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (g_str_has_prefix(argv[i], "out=")) {
			out = fopen(argv[i] + 4, "a");
			if (!out) {
				fprintf(stderr, "nicmem-insn: cannot open %s\n",
					argv[i] + 4);
				return -1;
			}
		} else {
			fprintf(stderr, "nicmem-insn: unknown argument %s\n",
				argv[i]);
			return -1;
		}
	}
	counts = qemu_plugin_scoreboard_new(sizeof(struct vcpu_insns));
	kernel_insns = qemu_plugin_scoreboard_u64_in_struct(
		counts, struct vcpu_insns, kernel);
	user_insns = qemu_plugin_scoreboard_u64_in_struct(
		counts, struct vcpu_insns, user);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
	return 0;
}
