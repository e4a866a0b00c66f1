/*
 * check_sched.c - the pure scheduler: FIFO per owner, round-robin across
 * owners, gates that skip what does not fit, removal, counts.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

#define LANE 1

static struct sched s;
static struct sched_owner owners[4];
static struct sched_item items[128];

static void
setup(void)
{
	memset(owners, 0, sizeof(owners));
	memset(items, 0, sizeof(items));
	sched_init(&s);
}

static struct sched_item *
push(int i, int owner)
{
	items[i].owner = &owners[owner];
	items[i].lane = LANE;
	items[i].gate = SCHED_GATE_NONE;
	sched_push(&s, &items[i]);
	return &items[i];
}

static int
pop_index(void)
{
	struct sched_item *it = sched_pop(&s, LANE);

	return it == NULL ? -1 : (int)(it - items);
}

START_TEST(fifo_within_owner)
{
	for (int i = 0; i < 5; i++)
		push(i, 0);
	ck_assert_uint_eq(sched_queued(&s, LANE), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(pop_index(), i);
	ck_assert_int_eq(pop_index(), -1);
	ck_assert_uint_eq(sched_queued(&s, LANE), 0);
}
END_TEST

START_TEST(round_robin_across_owners)
{
	/* Owner 0 floods first; owners 1 and 2 each add one job later. */
	for (int i = 0; i < 10; i++)
		push(i, 0);
	push(10, 1);
	push(11, 2);
	ck_assert_int_eq(pop_index(), 0);
	ck_assert_int_eq(pop_index(), 10);
	ck_assert_int_eq(pop_index(), 11);
	ck_assert_int_eq(pop_index(), 1);
	ck_assert_int_eq(pop_index(), 2);
}
END_TEST

START_TEST(late_owner_waits_at_most_one_round)
{
	int pos = -1;

	for (int i = 0; i < 20; i++)
		push(i, 0);
	for (int i = 20; i < 40; i++)
		push(i, 1);
	ck_assert_int_eq(pop_index(), 0);
	push(40, 2);
	/* A newcomer waits for at most one job of each other owner. */
	for (int k = 0; k < 4; k++)
		if (pop_index() == 40)
			pos = k;
	ck_assert_int_eq(pos, 2);
}
END_TEST

START_TEST(one_flooder_delays_newcomer_by_one_job)
{
	for (int i = 0; i < 60; i++)
		push(i, 0);
	ck_assert_int_eq(pop_index(), 0);
	push(60, 1);
	ck_assert_int_eq(pop_index(), 1);
	ck_assert_int_eq(pop_index(), 60);
}
END_TEST

START_TEST(remove_waiting_item)
{
	struct sched_item *a = push(0, 0), *b = push(1, 0), *c = push(2, 1);

	ck_assert(sched_remove(&s, b));
	ck_assert(!sched_remove(&s, b));
	ck_assert(sched_remove(&s, c));
	ck_assert_uint_eq(sched_queued(&s, LANE), 1);
	ck_assert_int_eq(pop_index(), 0);
	ck_assert(!sched_remove(&s, a)); /* popped: no longer waiting */
	ck_assert_int_eq(pop_index(), -1);
}
END_TEST

/* Push with a run gate and cost (charged at push when it fits). */
static struct sched_item *
push_gated(int i, int owner, int gate, unsigned long cost)
{
	items[i].owner = &owners[owner];
	items[i].lane = LANE;
	items[i].gate = gate;
	items[i].cost = cost;
	sched_push(&s, &items[i]);
	return &items[i];
}

START_TEST(gate_skips_what_does_not_fit)
{
	sched_set_budget(&s, 0, 100);
	push_gated(0, 0, 0, 80);
	push_gated(1, 1, 0, 30);
	push(2, 1); /* ungated, behind the gated one */
	/* big is charged at push; small waits, blocked, uncharged. */
	ck_assert_uint_eq(s.gate_used[0], 80);
	ck_assert_uint_eq(sched_runnable(&s, LANE), 2);
	ck_assert_uint_eq(sched_blocked(&s, LANE), 1);

	ck_assert_int_eq(pop_index(), 0);
	/* small does not fit; owner 1's ungated job must not wait for it. */
	ck_assert_int_eq(pop_index(), 2);
	ck_assert_int_eq(pop_index(), -1);
	ck_assert(!sched_gate_fits(&s, 0, 30));
	sched_release(&s, 0, 80);
	ck_assert_uint_eq(sched_blocked(&s, LANE), 0);
	ck_assert_uint_eq(s.gate_used[0], 30);
	ck_assert_int_eq(pop_index(), 1);
}
END_TEST

START_TEST(gate_budget_never_exceeded)
{
	unsigned long running = 0;
	int n, left = 30;

	sched_set_budget(&s, 0, 100);
	for (int i = 0; i < 30; i++)
		push_gated(i, i % 4, 0, 7 + (i * 13) % 40);
	while (left > 0) {
		while ((n = pop_index()) >= 0) {
			running += items[n].cost;
			left--;
			ck_assert_uint_le(s.gate_used[0], 100);
			ck_assert_uint_le(running, s.gate_used[0]);
		}
		/* Everything running ends: the blocked ones get their turn. */
		sched_release(&s, 0, running);
		running = 0;
		ck_assert_uint_eq(sched_queued(&s, LANE), (size_t)left);
	}
	ck_assert_uint_eq(s.gate_used[0], 0);
}
END_TEST

START_TEST(removing_a_runnable_item_frees_its_budget)
{
	struct sched_item *a;

	sched_set_budget(&s, 0, 100);
	a = push_gated(0, 0, 0, 100);
	push_gated(1, 1, 0, 100);
	ck_assert_uint_eq(sched_blocked(&s, LANE), 1);
	ck_assert(sched_remove(&s, a));
	/* The blocked one fits now: runnable, charged. */
	ck_assert_uint_eq(sched_blocked(&s, LANE), 0);
	ck_assert_uint_eq(s.gate_used[0], 100);
	ck_assert_int_eq(pop_index(), 1);
}
END_TEST

START_TEST(owner_output_holds_its_jobs)
{
	struct sched_owner *o = &owners[0];

	sched_owner_output(&s, o, 1000, 0);
	items[0].out_cost = 5000; /* bigger than the cap: alone it may */
	push(0, 0);
	items[1].out_cost = 100;
	push(1, 0);
	ck_assert_uint_eq(sched_runnable(&s, LANE), 1);
	ck_assert_uint_eq(sched_blocked(&s, LANE), 1);
	ck_assert_uint_eq(o->out_reserved, 5000);
	ck_assert_int_eq(pop_index(), 0);
	/* Its reply is unsent now (over the cap); its reservation ends. */
	sched_owner_output(&s, o, 1000, 5000);
	sched_release_output(&s, o, 5000, 0);
	ck_assert_uint_eq(sched_blocked(&s, LANE), 1);
	push(2, 0); /* no output cost, still held: over the cap */
	ck_assert_uint_eq(sched_blocked(&s, LANE), 2);
	ck_assert_int_eq(pop_index(), -1);
	/* Drained: both go. */
	sched_owner_output(&s, o, 1000, 0);
	ck_assert_uint_eq(sched_runnable(&s, LANE), 2);
	ck_assert_int_eq(pop_index(), 1);
	ck_assert_int_eq(pop_index(), 2);
}
END_TEST

START_TEST(owner_over_cap_gives_back_runnable_jobs)
{
	struct sched_owner *o = &owners[0];

	sched_set_budget(&s, SCHED_GATE_OUTPUT, 1000);
	sched_owner_output(&s, o, 1000, 0);
	items[0].out_cost = 600;
	push(0, 0);
	items[1].out_cost = 600;
	push(1, 1); /* another owner: the global budget blocks it */
	ck_assert_uint_eq(sched_blocked(&s, LANE), 1);
	/* Owner 0 goes over its cap before its job started. */
	sched_owner_output(&s, o, 1000, 2000);
	ck_assert_uint_eq(o->out_reserved, 0);
	/* Its 600 bytes of the budget went to owner 1's job. */
	ck_assert_int_eq(pop_index(), 1);
	ck_assert_int_eq(pop_index(), -1);
	ck_assert_uint_eq(s.gate_used[SCHED_GATE_OUTPUT], 600);
}
END_TEST

/*
 * Issue 11 defect 6: a budget lowered (reload) below the cost of jobs
 * already admitted must not strand them: such a job runs when its gate
 * is otherwise empty, and alone.
 */
START_TEST(gate_lowered_below_admitted_cost)
{
	sched_set_budget(&s, 0, 128);
	push_gated(0, 0, 0, 128);
	push_gated(1, 1, 0, 128);
	ck_assert_int_eq(pop_index(), 0);
	sched_set_budget(&s, 0, 64);
	ck_assert_int_eq(pop_index(), -1); /* a still runs */
	sched_release(&s, 0, 128);
	ck_assert_int_eq(pop_index(), 1); /* b, alone */
	push_gated(2, 2, 0, 8);
	ck_assert_int_eq(pop_index(), -1); /* nothing joins b */
	sched_release(&s, 0, 128);
	/* small became runnable, charged, when b gave its cost back. */
	ck_assert_uint_eq(s.gate_used[0], 8);
	ck_assert_int_eq(pop_index(), 2);
}
END_TEST

static Suite *
sched_suite(void)
{
	Suite *su = suite_create("sched");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, fifo_within_owner);
	tcase_add_test(tc, round_robin_across_owners);
	tcase_add_test(tc, late_owner_waits_at_most_one_round);
	tcase_add_test(tc, one_flooder_delays_newcomer_by_one_job);
	tcase_add_test(tc, remove_waiting_item);
	tcase_add_test(tc, gate_skips_what_does_not_fit);
	tcase_add_test(tc, gate_budget_never_exceeded);
	tcase_add_test(tc, gate_lowered_below_admitted_cost);
	tcase_add_test(tc, removing_a_runnable_item_frees_its_budget);
	tcase_add_test(tc, owner_output_holds_its_jobs);
	tcase_add_test(tc, owner_over_cap_gives_back_runnable_jobs);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
