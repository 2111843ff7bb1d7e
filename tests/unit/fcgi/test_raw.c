/* SPDX-License-Identifier: MIT */
/*
 * The answers of held requests, written as FastCGI records without libfcgi (fcgi/raw.c):
 * read back from the other end of a socket pair and parsed as a web server would.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/arena.h"
#include "fcgi/internal.h"
#include "settings.h"
#include "store/store.h"
#include "../check_main.h"

static struct arena	*a;
static struct store	*db;
static struct settings	 cfg;

static void
setup(void)
{
	a = arena_new();
	db = store_open(&cfg);
}

static void
teardown(void)
{
	store_close(db);
	arena_free(a);
}

/* What the web server reads: the STDOUT content, and the records seen. */
struct parsed {
	char		stdout_data[300000];
	size_t		stdout_len;
	unsigned	stdout_records;
	unsigned	empty_stdout;
	unsigned	end_requests;
	unsigned	other;
	unsigned	wrong_id;
	bool		after_end;	/* anything after END_REQUEST */
};

static size_t
read_all(int fd, unsigned char *buf, size_t cap)
{
	size_t	n;
	ssize_t	r;

	n = 0;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

static void
parse(const unsigned char *b, size_t len, unsigned id, struct parsed *p)
{
	size_t		off;
	size_t		clen;
	unsigned	type;

	memset(p, 0, sizeof(*p));
	for (off = 0; off + 8 <= len;) {
		ck_assert_int_eq(b[0 + off], 1);	/* version */
		type = b[off + 1];
		if (((unsigned)b[off + 2] << 8 | b[off + 3]) != id)
			p->wrong_id++;
		clen = (size_t)b[off + 4] << 8 | b[off + 5];
		if (p->end_requests > 0)
			p->after_end = true;
		if (type == 6 && clen > 0) {
			memcpy(p->stdout_data + p->stdout_len, b + off + 8, clen);
			p->stdout_len += clen;
			p->stdout_records++;
		} else if (type == 6)
			p->empty_stdout++;
		else if (type == 3) {
			ck_assert_uint_eq(clen, 8);
			ck_assert_int_eq(b[off + 8 + 4], 0);	/* FCGI_REQUEST_COMPLETE */
			p->end_requests++;
		} else
			p->other++;
		off += 8 + clen + b[off + 6];
	}
	ck_assert_uint_eq(off, len);
}

/* Answers a request with body (len bytes) and request id through raw_req_finish on one
 * end of a socket pair, while a child process reads the other end (an answer may be
 * larger than the socket's buffer) and hands the bytes back through a pipe; parses them. */
static void
answer(const char *body, size_t len, unsigned id, struct parsed *p)
{
	static unsigned char	 wire[400000];
	struct raw_conn		 c;
	struct raw_out		 o;
	struct req		 rq;
	size_t			 n;
	pid_t			 pid;
	int			 sv[2];
	int			 pfd[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		close(pfd[0]);
		n = read_all(sv[1], wire, sizeof(wire));
		_exit(write(pfd[1], wire, n) == (ssize_t)n ? 0 : 1);
	}
	close(sv[1]);
	close(pfd[1]);
	memset(&rq, 0, sizeof(rq));
	rq.ctx.arena = a;
	rq.ctx.db = db;
	rq.ctx.cfg = &cfg;
	rq.method_name = "GET";
	rq.path = "/v1/events";
	raw_req_output(&rq, a, &o);
	ck_assert_int_eq(reply_body(&rq, 200, body, len), ERR_OK);
	c.fd = sv[0];
	c.request_id = id;
	raw_req_finish(&rq, &c, &o, ERR_OK);
	n = read_all(pfd[0], wire, sizeof(wire));
	close(pfd[0]);
	parse(wire, n, id, p);
}

START_TEST(test_raw_answer_is_stdout_then_empty_stdout_then_end_request)
{
	struct parsed	p;

	answer("{\"events\":[]}", 13, 7, &p);
	ck_assert_uint_eq(p.stdout_records, 1);
	ck_assert_uint_eq(p.empty_stdout, 1);
	ck_assert_uint_eq(p.end_requests, 1);
	ck_assert_uint_eq(p.other, 0);
	ck_assert_uint_eq(p.wrong_id, 0);
	ck_assert(!p.after_end);
	p.stdout_data[p.stdout_len] = '\0';
	ck_assert_ptr_nonnull(strstr(p.stdout_data, "Status: 200"));
	ck_assert_ptr_nonnull(strstr(p.stdout_data, "\r\n\r\n{\"events\":[]}"));
}
END_TEST

START_TEST(test_raw_answer_carries_the_request_id_in_every_record)
{
	struct parsed	p;

	answer("{}", 2, 0xbeef, &p);
	ck_assert_uint_eq(p.wrong_id, 0);
	ck_assert_uint_eq(p.end_requests, 1);
}
END_TEST

START_TEST(test_raw_answer_splits_bodies_beyond_65535_bytes)
{
	static char	body[150001];
	struct parsed	p;
	char		*s;

	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	/* 150,000 bytes and the headers: three STDOUT records, each within the 16-bit
	 * length of a record, and the body whole once joined. */
	answer(body, sizeof(body) - 1, 1, &p);
	ck_assert_uint_eq(p.stdout_records, 3);
	ck_assert_uint_eq(p.empty_stdout, 1);
	ck_assert_uint_eq(p.end_requests, 1);
	p.stdout_data[p.stdout_len] = '\0';
	s = strstr(p.stdout_data, "\r\n\r\n");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s + 4), sizeof(body) - 1);
}
END_TEST

START_TEST(test_raw_answer_to_a_closed_connection_does_not_fail)
{
	struct raw_conn	c;
	struct raw_out	o;
	struct req	rq;
	int		sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);	/* the web server hung up (its client went away) */
	memset(&rq, 0, sizeof(rq));
	rq.ctx.arena = a;
	rq.ctx.db = db;
	rq.ctx.cfg = &cfg;
	rq.method_name = "GET";
	rq.path = "/v1/events";
	raw_req_output(&rq, a, &o);
	ck_assert_int_eq(reply_body(&rq, 200, "{}", 2), ERR_OK);
	c.fd = sv[0];
	c.request_id = 1;
	raw_req_finish(&rq, &c, &o, ERR_OK);	/* no SIGPIPE, no hang */
	ck_assert_int_eq(rq.status, 200);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*t;

	s = suite_create("fcgi/raw");
	t = tcase_create("raw");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_raw_answer_is_stdout_then_empty_stdout_then_end_request);
	tcase_add_test(t, test_raw_answer_carries_the_request_id_in_every_record);
	tcase_add_test(t, test_raw_answer_splits_bodies_beyond_65535_bytes);
	tcase_add_test(t, test_raw_answer_to_a_closed_connection_does_not_fail);
	suite_add_tcase(s, t);
	return s;
}
