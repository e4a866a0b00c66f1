/*
 * fuzz_rpc.c - libFuzzer target for the wire codec as sbkd drives it: the
 * input is a byte stream fed in uneven chunks to the line framer
 * (frame_next), each line goes through rpc_parse_line, each message (or
 * batch member) through rpc_request_parse, and every outcome is formatted
 * the way a reply would be (rpc_id_dump, rpc_format_result/error).  Reply
 * lines are parsed back with rpc_reply_parse, which must accept them, and
 * ids and results must be written exactly as json_dumps writes them.  The
 * event thread's fast scan (rpc_request_scan) must read every line it
 * takes exactly as the general path does (scan_differ).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frame.h"
#include "rpc.h"
#include "../scan_differ.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A reply line we made must parse back as a JSON-RPC response. */
static void
fz_check_reply(char *line, size_t len)
{
	struct rpc_error err = { 0 };
	const json_t *id, *result, *error;
	json_t *msg;

	if (line == NULL)
		return;
	if (len == 0 || line[len - 1] != '\n')
		abort();
	msg = rpc_parse_line(line, len - 1, &err);
	if (msg == NULL || !rpc_reply_parse(msg, &id, &result, &error))
		abort();
	json_decref(msg);
	rpc_error_clear(&err);
	free(line);
}

/* rpc_format.c writes v as text[0 .. len): json_dumps's bytes. */
static void
fz_check_dump(const char *text, size_t len, const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	/* Parsed values are valid: only out of memory makes it NULL. */
	if (want != NULL &&
	    (len != strlen(want) || memcmp(text, want, len) != 0))
		abort();
	free(want);
}

static void
fz_request(const json_t *msg)
{
	struct rpc_request req;
	struct rpc_error err = { 0 };
	const json_t *err_id = NULL;
	json_t *result;
	char *id_json, *line;
	size_t len, pre;

	if (!rpc_request_parse(msg, &req, &err_id, &err)) {
		if (err.code != RPC_INVALID_REQUEST)
			abort();
		id_json = rpc_id_dump(err_id);
		fz_check_reply(
		    rpc_format_error(id_json ? id_json : "null", &err, &len),
		    len);
		free(id_json);
		rpc_error_clear(&err);
		return;
	}
	if (req.method == NULL)
		abort();
	if (req.id != NULL && !rpc_id_valid(req.id))
		abort();
	id_json = rpc_id_dump(req.id);
	if (id_json == NULL)
		return;
	if (req.id != NULL)
		fz_check_dump(id_json, strlen(id_json), req.id);
	/* Echo the params back as a result, and as an error's data. */
	result = json_pack(
	    "{s:s,s:O?}", "method", req.method, "params", (json_t *)req.params);
	if (result != NULL) {
		line = rpc_format_result(id_json, result, &len);
		pre = strlen("{\"jsonrpc\":\"2.0\",\"id\":,\"result\":") +
		    strlen(id_json);
		if (line != NULL) {
			if (len < pre + 2)
				abort();
			/* Between the prefix and the closing "}\n". */
			fz_check_dump(line + pre, len - pre - 2, result);
		}
		fz_check_reply(line, len);
		json_decref(result);
	}
	rpc_error_param(&err, "params", "echo of %s", req.method);
	fz_check_reply(rpc_format_error(id_json, &err, &len), len);
	rpc_error_clear(&err);
	free(id_json);
}

static void
fz_line(const char *line, size_t len)
{
	struct rpc_error err = { 0 };
	json_t *msg, *member;
	char *reply;
	size_t i, rlen;
	bool fast;

	if (scan_differ(line, len, &fast) != NULL)
		abort();
	msg = rpc_parse_line(line, len, &err);
	if (msg == NULL) {
		/* -32603 only when jansson ran out of memory. */
		if (err.code != RPC_PARSE_ERROR &&
		    err.code != RPC_INTERNAL_ERROR)
			abort();
		reply = rpc_format_error("null", &err, &rlen);
		fz_check_reply(reply, rlen);
		rpc_error_clear(&err);
		return;
	}
	if (json_is_array(msg)) {
		for (i = 0; i < json_array_size(msg); i++) {
			member = json_array_get(msg, i);
			fz_request(member);
		}
	} else
		fz_request(msg);
	/* Whatever it was, the client side must not choke on it. */
	{
		const json_t *id, *result, *error;

		(void)rpc_reply_parse(msg, &id, &result, &error);
	}
	json_decref(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	char *buf;
	size_t have = 0, off = 0, consumed, line_len, chunk;
	size_t max_line;
	enum frame_status st;
	bool eof;

	if (size < 2)
		return 0;
	/* First byte: the line cap (small caps exercise the discard path). */
	max_line = data[0] < 128 ? (size_t)data[0] + 1 : 4096;
	/* Second byte: the chunk size the stream arrives in. */
	chunk = (size_t)(data[1] % 64) + 1;
	data += 2;
	size -= 2;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	frame_init(&f, max_line);
	for (;;) {
		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;

			memcpy(buf + have, data + off, n);
			have += n;
			off += n;
		}
		eof = off == size;
		for (;;) {
			st = frame_next(
			    &f, buf, have, eof, &consumed, &line_len);
			if (consumed > have)
				abort();
			if (st == FRAME_LINE) {
				if (line_len > max_line || line_len > consumed)
					abort();
				fz_line(buf, line_len);
			}
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
			if (st == FRAME_NEED_MORE && consumed == 0)
				break;
			if (have == 0 && eof)
				break;
		}
		if (eof)
			break;
	}
	free(buf);
	return 0;
}
