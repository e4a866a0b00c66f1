/*
 * table.c - the job table: every method sbkd knows, one row per kind.
 * To add a kind: write daemon/jobs/<kind>.c exporting its struct
 * job_kind, declare it here, add its row, and list the file in
 * daemon/jobs/meson.build.  The core never names a kind.
 */
#include <stddef.h>

#include "job.h"

extern const struct job_kind job_ping, job_stats, job_cancel;
extern const struct job_kind job_sleep, job_spin;
extern const struct job_kind job_test_crash, job_test_forbidden_call;
extern const struct job_kind job_test_hang, job_test_helper_pid;
extern const struct job_kind job_test_helper_lie;
extern const struct job_kind job_argon2_hash, job_argon2_verify;
extern const struct job_kind job_zstd_compress, job_zstd_decompress;
extern const struct job_kind job_file_read;
extern const struct job_kind job_admin_clients, job_admin_jobs;
extern const struct job_kind job_admin_cancel, job_admin_reload;

const struct job_kind *const job_table[] = {
	&job_ping,
	&job_stats,
	&job_cancel,
	&job_sleep,
	&job_spin,
	&job_test_crash,
	&job_test_forbidden_call,
	&job_test_hang,
	&job_test_helper_pid,
	&job_test_helper_lie,
	&job_argon2_hash,
	&job_argon2_verify,
	&job_zstd_compress,
	&job_zstd_decompress,
	&job_file_read,
	&job_admin_clients,
	&job_admin_jobs,
	&job_admin_cancel,
	&job_admin_reload,
	NULL,
};
