/*
 * config_values.h - parsers of the value types only sbkd's configuration
 * has: root directory lists (opened once, as O_PATH fds), uid and gid
 * lists, name lists, and ADDR:PORT.  Each returns false with the reason in why; on
 * success the caller owns what it got.
 *
 * Thread safety: main thread only.
 */
#ifndef SBK_CONFIG_VALUES_H
#define SBK_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Colon-separated absolute directories: *out a NULL-terminated list of
 * canonical paths, *fds one O_PATH directory fd per path.
 */
bool config_parse_paths(
    const char *v, char ***out, int **fds, char *why, size_t whylen);
/* Comma-separated ids, spaces allowed around each; "" is no id. */
bool config_parse_ids(
    const char *v, unsigned **out, size_t *count, char *why, size_t whylen);
/*
 * Names separated by spaces, tabs or commas, each of letters, digits, '.',
 * '_' and '-', at most once: a NULL-terminated list, NULL for none.
 */
bool config_parse_words(const char *v, char ***out, char *why, size_t whylen);
/* "ADDR:PORT" as metrics.c binds it; a name is not resolved. */
bool config_check_listen(const char *v, char *why, size_t whylen);

/* Free a NULL-terminated list; close and free its fds (parallel). */
void config_free_strv(char **v);
void config_close_fds(char **names, int *fds);

#endif /* SBK_CONFIG_VALUES_H */
