#!/bin/sh
# valgrind-sbkd.sh ARGS... - run $SBKD_REAL under valgrind memcheck.  Any
# memcheck error or definitely lost block makes the daemon exit 99, which
# the suites see as a failure wherever they check sbkd's exit status; set
# VALGRIND_OPTS=--log-file=DIR/sbkd.%p.log to keep every report (that is
# what scripts/check-extra does, and it fails on any report, including
# those of daemons a test killed).  --fair-sched=yes: valgrind runs one
# thread at a time, and its default lock lets a spinning worker take it
# back again and again, starving the event thread for the whole job.
exec valgrind --quiet --fair-sched=yes --error-exitcode=99 \
    --exit-on-first-error=no \
    --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite \
    --suppressions="$(dirname "$0")/valgrind.supp" \
    "$SBKD_REAL" "$@"
