/*
 * prometheus.h - turn the result of the `stats` method into the
 * Prometheus text exposition format (version 0.0.4).  Pure: no I/O, no
 * libevent; sbkd's /metrics endpoint and `sbkctl stats --prometheus` both
 * call it, so a scrape and node_exporter's textfile collector see the same
 * series.
 *
 * Thread safety: reentrant.
 */
#ifndef SBK_PROMETHEUS_H
#define SBK_PROMETHEUS_H

#include <jansson.h>

/* The Content-Type an HTTP server should send with the text. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Render a `stats` result object.  Members that are missing or not
 * integers are left out, so an older or newer daemon still gives valid
 * text.  Per-method latency histograms come from an optional member
 * methods.NAME.latency_us = {"count":N, "sum_us":N, "buckets":[[UPPER_US,
 * N], ...]} (bucket counts not cumulative, UPPER_US inclusive).
 *
 * Returns a malloc'd NUL-terminated string (its length in *len when len
 * is not NULL), or NULL with errno set.
 */
char *prom_format_stats(const json_t *stats, size_t *len);

#endif /* SBK_PROMETHEUS_H */
