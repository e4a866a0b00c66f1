/*
 * helper_zstd.h - the isolated helper's zstd ops (rows of helper.c's op
 * table): the request's bytes or descriptors handed to the same codec the
 * in-process jobs use (zstd_codec.h), its progress sent as PROGRESS
 * replies.
 */
#ifndef SBK_HELPER_ZSTD_H
#define SBK_HELPER_ZSTD_H

#include "helper_op.h"

int helper_zstd_compress(struct helper_call *, struct rpc_error *);
int helper_zstd_decompress(struct helper_call *, struct rpc_error *);

#endif /* SBK_HELPER_ZSTD_H */
