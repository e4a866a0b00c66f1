/*
 * argon2_direct.c - the baseline for the argon2 benchmark: N threads
 * calling libargon2 directly in one process, each hash with lanes = p and
 * a single thread (what an sbkd CPU worker does), for a fixed duration.
 * Prints hashes per second; compare with `sbkctl bench -m argon2.hash`
 * against sbkd with cpu_workers = N (bench/job-kinds.sh runs both).
 *
 * usage: argon2_direct [-n THREADS] [-d SECONDS] [-t T] [-m KIB] [-p P]
 *
 * Threads: main starts the workers and sums their counts; each worker
 * owns its buffers and shares only the stop flag.
 */
#include <sys/random.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>

static atomic_bool stop;
static uint32_t t_cost = 3, m_cost = 65536, lanes = 1;

struct worker {
	pthread_t thread;
	unsigned long hashes;
	int error;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	argon2_context ctx;
	uint8_t salt[16], out[32];
	char pw[] = "benchmark password";

	while (!atomic_load(&stop)) {
		if (getrandom(salt, sizeof(salt), 0) != sizeof(salt))
			memset(salt, 0x5a, sizeof(salt));
		memset(&ctx, 0, sizeof(ctx));
		ctx.out = out;
		ctx.outlen = sizeof(out);
		ctx.pwd = (uint8_t *)pw;
		ctx.pwdlen = sizeof(pw) - 1;
		ctx.salt = salt;
		ctx.saltlen = sizeof(salt);
		ctx.t_cost = t_cost;
		ctx.m_cost = m_cost;
		ctx.lanes = lanes;
		ctx.threads = 1;
		ctx.version = ARGON2_VERSION_13;
		if ((w->error = argon2_ctx(&ctx, Argon2_id)) != ARGON2_OK)
			break;
		w->hashes++;
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	struct worker *w;
	unsigned long total = 0;
	double dur = 10, t0, t1;
	int n = (int)sysconf(_SC_NPROCESSORS_ONLN), c, i;

	while ((c = getopt(argc, argv, "n:d:t:m:p:")) != -1) {
		switch (c) {
		case 'n':
			n = atoi(optarg);
			break;
		case 'd':
			dur = atof(optarg);
			break;
		case 't':
			t_cost = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			m_cost = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			lanes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			    "usage: argon2_direct [-n THREADS] "
			    "[-d SECONDS] [-t T] [-m KIB] [-p P]\n");
			return (2);
		}
	}
	if (n < 1 || (w = calloc((size_t)n, sizeof(*w))) == NULL)
		return (2);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0)
			return (2);
	usleep((useconds_t)(dur * 1e6));
	atomic_store(&stop, true);
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].error != ARGON2_OK) {
			fprintf(stderr, "argon2: %s\n",
			    argon2_error_message(w[i].error));
			return (1);
		}
		total += w[i].hashes;
	}
	/* Until the last thread joined: every counted hash is finished. */
	t1 = now_s();
	printf("threads %d t=%u m=%u p=%u: %lu hashes in %.3f s = %.2f "
	       "hashes/s\n",
	    n, t_cost, m_cost, lanes, total, t1 - t0,
	    (double)total / (t1 - t0));
	free(w);
	return (0);
}
