/*
 * zstd_codec.h - zstd compression and capped decompression on buffers and
 * on descriptors: no job, no JSON params, no paths, no base64.  The one
 * codec of both the in-process zstd jobs (daemon/jobs/zstd.c) and the
 * isolated helper's zstd ops (daemon/helper.c), so a frame is decoded by
 * the same code whichever side runs it.
 *
 * Both directions stream in chunks of ZSTD_CODEC_CHUNK bytes and ask
 * cb->stop after each one, so a stopped job ends within one chunk.
 * Decompressed output is capped at `limit` bytes (-32004 past it), and the
 * decoder's window is capped to match (zstd_codec_window_log), so a small
 * bomb costs neither memory nor much time.  Errors are the JSON-RPC errors
 * the job answers with; `param` names the parameter that carried the
 * input ("data_b64", "path") in invalid-data errors.
 *
 * Thread safety: none needed; every call owns its contexts and buffers.
 */
#ifndef SBK_ZSTD_CODEC_H
#define SBK_ZSTD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

#define ZSTD_CODEC_CHUNK (128 * 1024)

/* How a run is watched; either callback may be NULL. */
struct zstd_codec_cb {
	/* true: stop now (the codec answers RPC_CANCELLED "stopped"). */
	bool (*stop)(void *arg);
	/* After each chunk of descriptor input: bytes read, of total. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *arg;
};

/* A malloc'd result; the caller frees data. */
struct zstd_codec_buf {
	uint8_t *data;
	size_t len;
};

/* Descriptor mode: read in_fd to EOF, write the result to out_fd. */
struct zstd_codec_fds {
	int in_fd;
	int out_fd;
	uint64_t in_size;   /* for progress only; 0 when unknown */
	uint64_t bytes_in;  /* out: read */
	uint64_t bytes_out; /* out: written */
};

/*
 * The decoder's window cap for an output cap: what max_out needs, but
 * never below 2^23 (what zstd levels 1-19 use when the size is unknown),
 * nor above zstd's default 2^27.
 */
int zstd_codec_window_log(size_t max_out);

int zstd_codec_compress(const uint8_t *src, size_t len, int level,
    const struct zstd_codec_cb *cb, struct zstd_codec_buf *out,
    struct rpc_error *err);
int zstd_codec_decompress(const uint8_t *src, size_t len, size_t limit,
    const char *param, const struct zstd_codec_cb *cb,
    struct zstd_codec_buf *out, struct rpc_error *err);

int zstd_codec_compress_fds(struct zstd_codec_fds *io, int level,
    const struct zstd_codec_cb *cb, struct rpc_error *err);
int zstd_codec_decompress_fds(struct zstd_codec_fds *io, size_t limit,
    const char *param, const struct zstd_codec_cb *cb, struct rpc_error *err);

#endif /* SBK_ZSTD_CODEC_H */
