/*
 * gm_submit.c - a small Gearman client on libgearman for the bridge tests
 * and bench/gearman.sh (an independent client: it knows nothing of sbk).
 *
 *   gm_submit run HOST:PORT [-t TIMEOUT_MS] [-w WINDOW] [-q]
 *       Read tasks from stdin, one per line: TAG<TAB>FUNCTION<TAB>PRIO
 *       <TAB>WORKLOAD (PRIO: high, normal or low).  Submit them as
 *       foreground tasks, WINDOW at a time (default: all at once), and
 *       print one JSON line per task as it ends: {"tag","status":
 *       "complete"|"fail"|"exception"|"error","result","data",
 *       "statuses":[[NUM,DEN]...],"order":N}.  With -q print only a
 *       summary {"tasks","complete","fail","seconds"}.  Exit 0 when every
 *       task got an answer (complete or fail), 1 otherwise.
 *   gm_submit bg HOST:PORT FUNCTION PRIO WORKLOAD
 *       Submit one background job; print its handle.
 *   gm_submit status HOST:PORT HANDLE
 *       Print {"known":B,"running":B,"numerator":N,"denominator":N}.
 *
 * Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman/gearman.h>

struct task_rec {
	char *tag;
	char *data; /* WORK_DATA chunks, concatenated */
	size_t data_len;
	json_t *statuses;
	gearman_task_st *task;
	bool done;
};

static bool quiet;
static unsigned long n_done, n_complete, n_fail, n_other;

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
task_end(gearman_task_st *task, const char *status, bool with_result)
{
	struct task_rec *r = gearman_task_context(task);
	json_t *line;
	char *s;

	if (r == NULL)
		return;
	if (r->done) {
		/* A second answer to one task: the tests look for these. */
		n_other++;
		printf("{\"tag\":\"%s\",\"status\":\"duplicate %s\"}\n", r->tag,
		    status);
		fflush(stdout);
		return;
	}
	r->done = true;
	n_done++;
	if (strcmp(status, "complete") == 0)
		n_complete++;
	else if (strcmp(status, "fail") == 0)
		n_fail++;
	else
		n_other++;
	if (quiet)
		return;
	line = json_pack("{s:s,s:s,s:s%,s:s%,s:O,s:I}", "tag", r->tag, "status",
	    status, "result",
	    with_result && gearman_task_data(task) ?
		(const char *)gearman_task_data(task) :
		"",
	    with_result ? gearman_task_data_size(task) : (size_t)0, "data",
	    r->data ? r->data : "", r->data_len, "statuses", r->statuses,
	    "order", (json_int_t)n_done);
	s = json_dumps(line, JSON_COMPACT);
	puts(s ? s : "{\"error\":\"json\"}");
	fflush(stdout);
	free(s);
	json_decref(line);
}

static gearman_return_t
on_complete(gearman_task_st *task)
{
	task_end(task, "complete", true);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_fail(gearman_task_st *task)
{
	task_end(task, "fail", false);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_exception(gearman_task_st *task)
{
	task_end(task, "exception", true);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_data(gearman_task_st *task)
{
	struct task_rec *r = gearman_task_context(task);
	size_t n = gearman_task_data_size(task);
	char *more;

	if (r == NULL || n == 0)
		return GEARMAN_SUCCESS;
	if ((more = realloc(r->data, r->data_len + n + 1)) == NULL)
		return GEARMAN_MEMORY_ALLOCATION_FAILURE;
	r->data = more;
	memcpy(r->data + r->data_len, gearman_task_data(task), n);
	r->data_len += n;
	r->data[r->data_len] = '\0';
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_status(gearman_task_st *task)
{
	struct task_rec *r = gearman_task_context(task);

	if (r != NULL)
		json_array_append_new(r->statuses,
		    json_pack("[I,I]", (json_int_t)gearman_task_numerator(task),
			(json_int_t)gearman_task_denominator(task)));
	return GEARMAN_SUCCESS;
}

static gearman_client_st *
connect_client(const char *server, int timeout_ms)
{
	gearman_client_st *c = gearman_client_create(NULL);

	if (c == NULL ||
	    gearman_failed(gearman_client_add_servers(c, server))) {
		fprintf(stderr, "gm_submit: cannot use server %s\n", server);
		exit(2);
	}
	if (timeout_ms > 0)
		gearman_client_set_timeout(c, timeout_ms);
	return c;
}

/* Run the tasks added so far; the ones left unanswered end as "error". */
static bool
run_batch(gearman_client_st *c, struct task_rec *recs, size_t from, size_t to)
{
	gearman_return_t ret = gearman_client_run_tasks(c);
	bool ok = gearman_success(ret);

	for (size_t i = from; i < to; i++) {
		if (!recs[i].done) {
			fprintf(stderr, "gm_submit: task %s: %s\n", recs[i].tag,
			    gearman_client_error(c) ? gearman_client_error(c) :
						      gearman_strerror(ret));
			task_end(recs[i].task, "error", false);
			ok = false;
		}
		gearman_task_free(recs[i].task);
		recs[i].task = NULL;
	}
	return ok;
}

static int
cmd_run(const char *server, int argc, char **argv)
{
	size_t window = 0, n = 0, cap = 0, linecap = 0, batch_from = 0;
	struct task_rec *recs = NULL;
	int timeout_ms = 0, opt;
	char *line = NULL;
	gearman_client_st *c;
	double t0;
	bool ok = true;
	ssize_t len;

	optind = 1;
	while ((opt = getopt(argc, argv, "t:w:q")) != -1) {
		switch (opt) {
		case 't':
			timeout_ms = (int)strtol(optarg, NULL, 10);
			break;
		case 'w':
			window = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return 2;
		}
	}
	c = connect_client(server, timeout_ms);
	gearman_client_set_complete_fn(c, on_complete);
	gearman_client_set_fail_fn(c, on_fail);
	gearman_client_set_exception_fn(c, on_exception);
	gearman_client_set_data_fn(c, on_data);
	gearman_client_set_status_fn(c, on_status);
	/* WORK_EXCEPTION reaches a client only when it asks for it. */
	gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);

	/* Read everything first, so the submission itself is quick. */
	while ((len = getline(&line, &linecap, stdin)) > 0) {
		char *tag, *fn, *prio, *work;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		tag = line;
		if ((fn = strchr(tag, '\t')) == NULL ||
		    (prio = strchr(fn + 1, '\t')) == NULL ||
		    (work = strchr(prio + 1, '\t')) == NULL) {
			fprintf(stderr, "gm_submit: bad line %zu\n", n + 1);
			exit(2);
		}
		*fn++ = *prio++ = *work++ = '\0';
		if (n == cap) {
			struct task_rec *more;

			cap = cap ? cap * 2 : 64;
			if ((more = realloc(recs, cap * sizeof(*recs))) ==
			    NULL) {
				fprintf(stderr, "gm_submit: out of memory\n");
				exit(2);
			}
			recs = more;
		}
		memset(&recs[n], 0, sizeof(recs[n]));
		/* tag, fn, prio, work are kept in one block. */
		recs[n].tag = malloc((size_t)len + 1);
		memcpy(recs[n].tag, line, (size_t)len + 1);
		recs[n].statuses = json_array();
		n++;
	}
	free(line);

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct task_rec *r = &recs[i];
		const char *fn = r->tag + strlen(r->tag) + 1;
		const char *prio = fn + strlen(fn) + 1;
		const char *work = prio + strlen(prio) + 1;
		gearman_return_t ret;

		if (strcmp(prio, "high") == 0)
			r->task = gearman_client_add_task_high(
			    c, NULL, r, fn, NULL, work, strlen(work), &ret);
		else if (strcmp(prio, "low") == 0)
			r->task = gearman_client_add_task_low(
			    c, NULL, r, fn, NULL, work, strlen(work), &ret);
		else
			r->task = gearman_client_add_task(
			    c, NULL, r, fn, NULL, work, strlen(work), &ret);
		if (r->task == NULL) {
			fprintf(stderr, "gm_submit: add_task: %s\n",
			    gearman_client_error(c));
			return 1;
		}
		if (window > 0 && i + 1 - batch_from == window) {
			ok = run_batch(c, recs, batch_from, i + 1) && ok;
			batch_from = i + 1;
		}
	}
	if (batch_from < n)
		ok = run_batch(c, recs, batch_from, n) && ok;
	if (quiet)
		printf("{\"tasks\":%zu,\"complete\":%lu,\"fail\":%lu,"
		       "\"other\":%lu,\"seconds\":%.6f}\n",
		    n, n_complete, n_fail, n_other, now_s() - t0);
	for (size_t i = 0; i < n; i++) {
		free(recs[i].tag);
		free(recs[i].data);
		json_decref(recs[i].statuses);
	}
	free(recs);
	gearman_client_free(c);
	return ok && n_other == 0 ? 0 : 1;
}

static int
cmd_bg(const char *server, const char *fn, const char *prio, const char *work)
{
	gearman_client_st *c = connect_client(server, 10000);
	gearman_job_handle_t handle;
	gearman_return_t ret;

	if (strcmp(prio, "high") == 0)
		ret = gearman_client_do_high_background(
		    c, fn, NULL, work, strlen(work), handle);
	else if (strcmp(prio, "low") == 0)
		ret = gearman_client_do_low_background(
		    c, fn, NULL, work, strlen(work), handle);
	else
		ret = gearman_client_do_background(
		    c, fn, NULL, work, strlen(work), handle);
	if (gearman_failed(ret)) {
		fprintf(stderr, "gm_submit: %s\n", gearman_client_error(c));
		return 1;
	}
	printf("%s\n", handle);
	gearman_client_free(c);
	return 0;
}

static int
cmd_status(const char *server, const char *handle)
{
	gearman_client_st *c = connect_client(server, 10000);
	bool known, running;
	uint32_t num, den;
	gearman_return_t ret;

	ret =
	    gearman_client_job_status(c, handle, &known, &running, &num, &den);
	if (gearman_failed(ret)) {
		fprintf(stderr, "gm_submit: %s\n", gearman_client_error(c));
		return 1;
	}
	printf("{\"known\":%s,\"running\":%s,\"numerator\":%u,"
	       "\"denominator\":%u}\n",
	    known ? "true" : "false", running ? "true" : "false", num, den);
	gearman_client_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2], argc - 2, argv + 2);
	if (argc == 6 && strcmp(argv[1], "bg") == 0)
		return cmd_bg(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && strcmp(argv[1], "status") == 0)
		return cmd_status(argv[2], argv[3]);
	fprintf(stderr,
	    "usage: gm_submit run HOST:PORT [-t MS] [-w N] [-q] < tasks\n"
	    "       gm_submit bg HOST:PORT FUNCTION PRIO WORKLOAD\n"
	    "       gm_submit status HOST:PORT HANDLE\n");
	return 2;
}
