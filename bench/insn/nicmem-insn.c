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
 * Arguments: out=<file> (the marks, appended; default: QEMU's log);
 * profile=on: also count the executions of every translation block, and at
 * each end marker (tag 2) write the blocks executed since the start marker
 * (tag 1) to <file>.tb.<seq>, "<vaddr> <insns> <executions>" per line,
 * which bench/report.py maps to functions with the guest's kallsyms. This
 * slows the guest down (a helper call per block), so the profile is a run
 * of its own.
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
static char *out_path;
static GMutex out_lock;
static uint64_t seq;

/* profile=on: one record per translated block, by vaddr and size. */
struct tb_record {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t execs;
};

static bool profile;
static GHashTable *tbs;
static GMutex tbs_lock;

static guint tb_hash(gconstpointer p)
{
	const struct tb_record *r = p;

	return g_int64_hash(&r->vaddr) ^ (guint)r->insns;
}

static gboolean tb_equal(gconstpointer a, gconstpointer b)
{
	const struct tb_record *x = a, *y = b;

	return x->vaddr == y->vaddr && x->insns == y->insns;
}

static void tb_exec(unsigned int vcpu, void *udata)
{
	struct tb_record *r = udata;

	__atomic_fetch_add(&r->execs, 1, __ATOMIC_RELAXED);
}

static void tb_zero(gpointer key, gpointer value, gpointer data)
{
	struct tb_record *r = key;

	__atomic_store_n(&r->execs, 0, __ATOMIC_RELAXED);
}

static void tb_write(gpointer key, gpointer value, gpointer data)
{
	struct tb_record *r = key;
	uint64_t n = __atomic_load_n(&r->execs, __ATOMIC_RELAXED);

	if (n)
		fprintf(data, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
			r->vaddr, r->insns, n);
}

/* The blocks executed since the last start marker, to <out>.tb.<seq>. */
static void profile_mark(unsigned int tag, uint64_t at)
{
	g_autofree char *path = NULL;
	FILE *f;

	g_mutex_lock(&tbs_lock);
	if (tag == 1) {
		g_hash_table_foreach(tbs, tb_zero, NULL);
	} else if (tag == 2 && out_path) {
		path = g_strdup_printf("%s.tb.%" PRIu64, out_path, at);
		f = fopen(path, "w");
		if (f) {
			g_hash_table_foreach(tbs, tb_write, f);
			fclose(f);
		}
	}
	g_mutex_unlock(&tbs_lock);
}

static void mark(unsigned int vcpu, void *udata)
{
	unsigned int tag = GPOINTER_TO_UINT(udata);
	int n = qemu_plugin_num_vcpus();
	GString *line = g_string_new(NULL);

	g_mutex_lock(&out_lock);
	if (profile)
		profile_mark(tag, seq);
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
	if (profile) {
		struct tb_record key = { qemu_plugin_tb_vaddr(tb), n, 0 };
		struct tb_record *r;

		/* A block translated again (another vCPU, a flush) keeps its
		 * record: the counts are per address, not per translation.
		 */
		g_mutex_lock(&tbs_lock);
		r = g_hash_table_lookup(tbs, &key);
		if (!r) {
			r = g_memdup2(&key, sizeof(key));
			g_hash_table_add(tbs, r);
		}
		g_mutex_unlock(&tbs_lock);
		qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec,
						     QEMU_PLUGIN_CB_NO_REGS, r);
	}
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
	g_free(out_path);
	if (tbs)
		g_hash_table_destroy(tbs);
	qemu_plugin_scoreboard_free(counts);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (g_str_has_prefix(argv[i], "out=")) {
			out_path = g_strdup(argv[i] + 4);
			out = fopen(out_path, "a");
			if (!out) {
				fprintf(stderr, "nicmem-insn: cannot open %s\n",
					argv[i] + 4);
				return -1;
			}
		} else if (!strcmp(argv[i], "profile=on")) {
			profile = true;
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
	if (profile)
		tbs = g_hash_table_new_full(tb_hash, tb_equal, g_free, NULL);
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
	return 0;
}
