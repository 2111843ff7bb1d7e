/* SPDX-License-Identifier: MIT */
/*
 * bench/polld.c: a load driver for chatd's real-time delivery (GET /v1/events).
 *
 * One process, one thread, epoll over non-blocking sockets, plain HTTP/1.1 keep-alive to
 * 127.0.0.1:PORT; libc only. JSON is read by string search: "cursor", and the "content"
 * of our own messages, which carries the send time ("polld t=<CLOCK_REALTIME us> k=<n>").
 *
 *   polld users -p PORT -n N -P PREFIX -o FILE [-c CONC]
 *       registers N users PREFIX000001.. (409: already there) and logs each in; writes
 *       "username<TAB>user_id<TAB>token" lines to FILE. -S K starts at user K+1.
 *   polld rate -p PORT -u FILE [-n N] -r RATE -d SECONDS [-w GRACE] [-c CONNS]
 *       keeps one held poll per user (re-polling with the returned cursor as soon as an
 *       answer comes) and sends RATE 1:1 messages a second between random pairs for
 *       SECONDS; every message event received gives one delivery latency (now - send
 *       time). Prints count, p50/p90/p99/max and the errors.
 *   polld burst -p PORT -u FILE [-n N] [-g GROUPS] [-k ROUNDS] [-c CONNS]
 *       parks N polls, then sends at once one message that reaches every user (direct
 *       messages between pairs 2i -> 2i+1, or with -g one message per group) and measures
 *       the time until all N polls have been answered with it; ROUNDS times.
 *   polld burst --nchan CHANNEL -p PORT [-N SUBSCRIBERS] [-k ROUNDS]
 *       the same fan-out with an nchan server: N long-poll subscribers of
 *       /sub/CHANNEL, one POST /pub/CHANNEL per round.
 *
 * Common options: -O K (leave out the first K users of the file), -t poll timeout (s,
 * default 55), -s settle (ms of quiet before a round or the sends, default 500), -R ramp
 * (connections opened at once, default 256), -G SECONDS (between burst rounds, default 1),
 * -M name=pid,... (VmRSS/VmHWM/threads/fds of these processes once all polls are held),
 * -H SECONDS (stay idle that long with every poll held, before the sends), -L SECONDS (give
 * up waiting for all polls to be held after that long, default 180, and go on with those),
 * -D SECONDS (a burst round that has not reached every poll by then fails; default 30).
 *
 * Build: cc -O2 -Wall -o polld bench/polld.c   (bench/delivery.sh does it)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PASSWORD	"polld-password-1"
#define TAG		"polld t="
#define MAX_STATUS	600

/* ---------------------------------------------------------------- small helpers */

static void
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "polld: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void	*p = calloc(1, n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("out of memory");
	return p;
}

static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
real_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A growing array of int64 samples. */
struct samples {
	int64_t	*v;
	size_t	 n;
	size_t	 cap;
};

static void
sample_add(struct samples *s, int64_t x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = x;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(struct samples *s, double q)
{
	size_t	i;

	if (s->n == 0)
		return 0;
	i = (size_t)(q * (double)s->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > s->n)
		i = s->n;
	return (double)s->v[i - 1] / 1000.0;
}

/* "count=... p50=... ms" for a sample set (sorted here); values in ms. */
static void
summary(const char *name, struct samples *s, char *out, size_t outlen)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp64);
	snprintf(out, outlen, "%s_count=%zu %s_p50=%.1f %s_p90=%.1f %s_p99=%.1f %s_max=%.1f",
	    name, s->n, name, pct(s, .50), name, pct(s, .90), name, pct(s, .99), name,
	    s->n ? (double)s->v[s->n - 1] / 1000.0 : 0.0);
}

/* ---------------------------------------------------------------- settings and state */

struct user {
	char	*name;
	char	*id;
	char	*token;
	char	 cursor[256];
	char	 etag[128];		/* nchan: If-None-Match */
	char	 lastmod[64];		/* nchan: If-Modified-Since */
	struct conn *poll;
	int64_t	 poll_sent_us;		/* when the current poll was written; 0: none */
	int64_t	 retry_at_us;		/* a poll to send again at this time; 0: none */
	int	 round_seen;		/* burst: last round whose message arrived */
	int	 group;			/* burst -g: the user's group, else -1 */
	bool	 have_cursor;
	bool	 answered;		/* rate: ever answered (for the ramp) */
};

struct msg {
	int	 sender;
	int	 receiver;		/* -1: a group message */
	int	 group;
	int	 round;
	int64_t	 sent_rt;		/* 0: not yet written */
	int64_t	 sent_mono;
	int	 status;		/* of the POST; 0: no answer yet */
	int64_t	 acked_mono;		/* when the POST was answered */
	int	 got;			/* receiver copies */
	int	 echo;			/* sender copies */
	int	 attempts;
};

struct group {
	char	*id;
	int	 first;
	int	 count;
};

enum ckind { K_POLL, K_SEND };

struct conn {
	int		 fd;
	enum ckind	 kind;
	int		 user;		/* K_POLL: the user; K_SEND: -1 */
	int		 msg;		/* K_SEND: message in flight; -1: none */
	bool		 connected;
	bool		 pending;	/* a request written (or being written), no answer yet */
	bool		 want_out;
	char		*out;
	size_t		 outlen;
	size_t		 outoff;
	char		*in;
	size_t		 inlen;
	size_t		 incap;
	int64_t		 req_mono;
	int64_t		 idle_since;
	unsigned	 served;
	struct conn	*next_idle;
};

static struct {
	const char	*mode;
	int		 port;
	const char	*users_file;
	const char	*groups_file;
	const char	*nchan;
	const char	*prefix;
	const char	*out_file;
	const char	*monitor;
	int		 n;
	int		 nsub;
	double		 rate;
	double		 duration;
	double		 grace;
	int		 conns;
	int		 rounds;
	int		 timeout;
	int		 settle_ms;
	int		 ramp;
	double		 hold_s;
	double		 round_gap;
	int		 ramp_limit_s;
	int		 start;
	int		 skip;
	int		 round_limit_s;
	bool		 verbose;
} opt = {
	.port = 0, .n = 0, .rate = 100, .duration = 20, .grace = 3, .conns = 64, .rounds = 10,
	.timeout = 55, .settle_ms = 500, .ramp = 256, .round_gap = 1.0, .nsub = 500,
	.ramp_limit_s = 180, .round_limit_s = 30,
};

static int		 ep;
static struct sockaddr_in server;
static struct user	*users;
static int		 nusers;
static struct group	*groups;
static int		 ngroups;
static struct msg	*msgs;
static int		 nmsgs;
static int		 capmsgs;
static struct conn	*idle_send;
static int		 nsend_conns;
static int		*backlog;	/* messages waiting for a send connection */
static int		 backlog_len;
static int		 backlog_cap;
static int		 backlog_head;
static int		 connecting;	/* connections not yet connected */
static int		 polls_out;	/* polls written and not answered */
static int64_t		 last_answer_mono;
static int		 cur_round = -1;
static int		 held_at_start;
static int		 round_answered;
static int64_t		 round_t0;
static int64_t		 round_last_send_ack;
static int64_t		 round_last_answer;
static char		 run_tag[32];
static volatile sig_atomic_t stop_flag;

static struct {
	unsigned long	poll_status[MAX_STATUS];
	unsigned long	send_status[MAX_STATUS];
	unsigned long	poll_answers;
	unsigned long	poll_empty;
	unsigned long	conn_errors;
	unsigned long	poll_reconnects;
	unsigned long	send_retries;
	unsigned long	dups;
	unsigned long	foreign;	/* message events that are not ours */
	unsigned long	late_sends;	/* sends that waited for a free connection */
	struct samples	lat;		/* receiver copies, us */
	struct samples	echo_lat;	/* sender's own copies, us */
	struct samples	send_lat;	/* POST round trip, us */
	struct samples	round_all;	/* burst: first send -> last user answered */
	struct samples	round_after_ack; /* burst: last 201 -> last user answered */
	struct samples	round_sendspan;	/* burst: first send written -> last 201 */
} st;

/* ---------------------------------------------------------------- connections */

static void conn_close(struct conn *c);
static void poll_send(int u);
static void send_pump(void);

static void
ep_set(struct conn *c, bool out)
{
	struct epoll_event	ev;

	ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->want_out = out;
}

static struct conn *
conn_open(enum ckind kind, int user)
{
	struct conn		*c;
	struct epoll_event	 ev;
	int			 fd;
	int			 one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s (raise ulimit -n?)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xmalloc(sizeof(*c));
	c->fd = fd;
	c->kind = kind;
	c->user = user;
	c->msg = -1;
	c->incap = 4096;
	c->in = xmalloc(c->incap);
	if (connect(fd, (struct sockaddr *)&server, sizeof(server)) == 0)
		c->connected = true;
	else if (errno != EINPROGRESS)
		die("connect: %s", strerror(errno));
	else
		connecting++;
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
	ev.data.ptr = c;
	c->want_out = true;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	if (kind == K_SEND)
		nsend_conns++;
	return c;
}

static void
conn_close(struct conn *c)
{
	if (!c->connected)
		connecting--;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->kind == K_SEND) {
		struct conn	**pp;

		nsend_conns--;
		for (pp = &idle_send; *pp != NULL; pp = &(*pp)->next_idle)
			if (*pp == c) {
				*pp = c->next_idle;
				break;
			}
	}
	free(c->out);
	free(c->in);
	free(c);
}

/* Writes what is buffered; false when the connection failed. */
static bool
conn_flush(struct conn *c)
{
	ssize_t	n;

	if (!c->connected)
		return true;
	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->want_out)
					ep_set(c, true);
				return true;
			}
			if (errno == EINTR)
				continue;
			return false;
		}
		c->outoff += (size_t)n;
	}
	if (c->want_out)
		ep_set(c, false);
	return true;
}

static void
conn_request(struct conn *c, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	free(c->out);
	va_start(ap, fmt);
	n = vasprintf(&c->out, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("out of memory");
	c->outlen = (size_t)n;
	c->outoff = 0;
	c->pending = true;
	c->req_mono = mono_us();
}

/* ---------------------------------------------------------------- HTTP responses */

struct response {
	int		 status;
	const char	*body;
	size_t		 bodylen;
	bool		 close;
	int		 retry_after;
	char		 etag[128];
	char		 lastmod[64];
	char		*dechunked;
};

static const char *
memfind(const char *h, size_t hl, const char *n)
{
	return memmem(h, hl, n, strlen(n));
}

static bool
header_value(const char *head, size_t headlen, const char *name, char *out, size_t outlen)
{
	const char	*p = head;
	const char	*end = head + headlen;
	size_t		 nl = strlen(name);

	while (p < end) {
		const char *eol = memfind(p, (size_t)(end - p), "\r\n");

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char	*v = p + nl + 1;
			size_t		 vl;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(eol - v);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol + 2;
	}
	return false;
}

/* 1: a whole response parsed (consumed set); 0: need more; -1: malformed. */
static int
parse_response(struct conn *c, struct response *r, size_t *consumed, bool eof)
{
	const char	*hend;
	size_t		 headlen;
	char		 v[256];

	memset(r, 0, sizeof(*r));
	hend = memfind(c->in, c->inlen, "\r\n\r\n");
	if (hend == NULL)
		return c->inlen > 65536 ? -1 : 0;
	headlen = (size_t)(hend - c->in) + 2;
	if (c->inlen < 12 || memcmp(c->in, "HTTP/1.", 7) != 0)
		return -1;
	r->status = atoi(c->in + 9);
	if (header_value(c->in, headlen, "Connection", v, sizeof(v)) && strcasecmp(v, "close") == 0)
		r->close = true;
	if (strncmp(c->in, "HTTP/1.0", 8) == 0 &&
	    !(header_value(c->in, headlen, "Connection", v, sizeof(v)) &&
	    strcasecmp(v, "keep-alive") == 0))
		r->close = true;
	if (header_value(c->in, headlen, "Retry-After", v, sizeof(v)))
		r->retry_after = atoi(v);
	header_value(c->in, headlen, "Etag", r->etag, sizeof(r->etag));
	header_value(c->in, headlen, "Last-Modified", r->lastmod, sizeof(r->lastmod));
	if (header_value(c->in, headlen, "Content-Length", v, sizeof(v))) {
		size_t	len = strtoul(v, NULL, 10);
		size_t	total = headlen + 2 + len;

		if (c->inlen < total)
			return 0;
		r->body = c->in + headlen + 2;
		r->bodylen = len;
		*consumed = total;
		return 1;
	}
	if (header_value(c->in, headlen, "Transfer-Encoding", v, sizeof(v)) &&
	    strcasestr(v, "chunked") != NULL) {
		const char	*p = c->in + headlen + 2;
		const char	*end = c->in + c->inlen;
		char		*buf = NULL;
		size_t		 blen = 0;

		for (;;) {
			const char	*eol = memfind(p, (size_t)(end - p), "\r\n");
			size_t		 sz;

			if (eol == NULL) {
				free(buf);
				return 0;
			}
			sz = strtoul(p, NULL, 16);
			if (sz == 0) {
				/* no trailers expected: "0\r\n\r\n" */
				if ((size_t)(end - eol) < 4) {
					free(buf);
					return 0;
				}
				*consumed = (size_t)(eol + 4 - c->in);
				break;
			}
			if ((size_t)(end - (eol + 2)) < sz + 2) {
				free(buf);
				return 0;
			}
			buf = xrealloc(buf, blen + sz + 1);
			memcpy(buf + blen, eol + 2, sz);
			blen += sz;
			p = eol + 2 + sz + 2;
		}
		if (buf == NULL)
			buf = xmalloc(1);
		buf[blen] = '\0';
		r->dechunked = buf;
		r->body = buf;
		r->bodylen = blen;
		return 1;
	}
	if (r->status == 204 || r->status == 304 || r->status / 100 == 1) {
		*consumed = headlen + 2;
		return 1;
	}
	/* Body until close. */
	if (!eof)
		return 0;
	r->body = c->in + headlen + 2;
	r->bodylen = c->inlen - headlen - 2;
	r->close = true;
	*consumed = c->inlen;
	return 1;
}

/* ---------------------------------------------------------------- messages */

static int
msg_new(int sender, int receiver, int group, int round)
{
	struct msg	*m;

	if (nmsgs == capmsgs) {
		capmsgs = capmsgs ? capmsgs * 2 : 65536;
		msgs = xrealloc(msgs, (size_t)capmsgs * sizeof(*msgs));
	}
	m = &msgs[nmsgs];
	memset(m, 0, sizeof(*m));
	m->sender = sender;
	m->receiver = receiver;
	m->group = group;
	m->round = round;
	return nmsgs++;
}

static void
backlog_push(int k)
{
	if (backlog_len == backlog_cap) {
		int	*nb;
		int	 i;
		int	 newcap = backlog_cap ? backlog_cap * 2 : 4096;

		nb = xmalloc((size_t)newcap * sizeof(*nb));
		for (i = 0; i < backlog_len; i++)
			nb[i] = backlog[(backlog_head + i) % backlog_cap];
		free(backlog);
		backlog = nb;
		backlog_cap = newcap;
		backlog_head = 0;
	}
	backlog[(backlog_head + backlog_len) % backlog_cap] = k;
	backlog_len++;
}

static int
backlog_pop(void)
{
	int	k;

	k = backlog[backlog_head];
	backlog_head = (backlog_head + 1) % backlog_cap;
	backlog_len--;
	return k;
}

/* Writes message k on send connection c; the content carries the time of this write. */
static void
send_on(struct conn *c, int k)
{
	struct msg	*m = &msgs[k];
	char		 body[1024];
	int		 n;

	if (m->sent_rt == 0) {
		m->sent_rt = real_us();
		m->sent_mono = mono_us();
	}
	m->attempts++;
	c->msg = k;
	if (opt.nchan != NULL) {
		n = snprintf(body, sizeof(body), TAG "%" PRId64 " k=%d", m->sent_rt, k);
		conn_request(c, "POST /pub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		    opt.nchan, n, body);
	} else if (m->receiver >= 0) {
		n = snprintf(body, sizeof(body), "{\"receiver_id\":\"%s\",\"message_type\":\"text\","
		    "\"content\":\"" TAG "%" PRId64 " k=%d\",\"client_msg_id\":\"%s-%d\"}",
		    users[m->receiver].id, m->sent_rt, k, run_tag, k);
		conn_request(c, "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n%s", users[m->sender].token, n, body);
	} else {
		n = snprintf(body, sizeof(body), "{\"message_type\":\"text\","
		    "\"content\":\"" TAG "%" PRId64 " k=%d\",\"client_msg_id\":\"%s-%d\"}",
		    m->sent_rt, k, run_tag, k);
		conn_request(c, "POST /v1/groups/%s/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n%s", groups[m->group].id, users[m->sender].token,
		    n, body);
	}
	if (!conn_flush(c)) {
		st.conn_errors++;
		c->pending = false;
		c->msg = -1;
		conn_close(c);
		st.send_retries++;
		backlog_push(k);
	}
}

/* Queues message k: on an idle connection now, or when one frees up. */
static void
send_msg(int k)
{
	backlog_push(k);
	send_pump();
}

static void
send_pump(void)
{
	struct conn	*c;
	int64_t		 now = mono_us();

	while (backlog_len > 0) {
		c = idle_send;
		/* lighttpd drops keep-alive connections idle for 5 s: do not reuse old ones. */
		while (c != NULL && now - c->idle_since > 3000000) {
			idle_send = c->next_idle;
			conn_close(c);
			c = idle_send;
		}
		if (c != NULL) {
			idle_send = c->next_idle;
			send_on(c, backlog_pop());
			continue;
		}
		if (nsend_conns < opt.conns) {
			c = conn_open(K_SEND, -1);
			/* written once connected */
			c->msg = backlog_pop();
			continue;
		}
		st.late_sends++;
		break;
	}
}

static void
send_done(struct conn *c, struct response *r)
{
	struct msg	*m = &msgs[c->msg];
	int64_t		 now = mono_us();

	if (r->status < MAX_STATUS)
		st.send_status[r->status]++;
	m->status = r->status;
	m->acked_mono = now;
	if (r->status == 200 || r->status == 201 || r->status == 202) {
		sample_add(&st.send_lat, now - m->sent_mono);
		if (m->round == cur_round && now > round_last_send_ack)
			round_last_send_ack = now;
	} else if ((r->status == 503 || r->status == 502 || r->status == 429) &&
	    m->attempts < 5) {
		st.send_retries++;
		c->msg = -1;
		c->pending = false;
		backlog_push((int)(m - msgs));
		return;
	} else if (opt.verbose) {
		fprintf(stderr, "send %d: %d %.*s\n", c->msg, r->status,
		    (int)(r->bodylen > 200 ? 200 : r->bodylen), r->body ? r->body : "");
	}
	c->msg = -1;
	c->pending = false;
}

/* ---------------------------------------------------------------- polls */

static void
poll_write(struct conn *c, int u)
{
	struct user	*us = &users[u];

	if (opt.nchan != NULL) {
		char	hdr[512] = "";

		if (us->etag[0] != '\0')
			snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\nIf-Modified-Since: %s\r\n",
			    us->etag, us->lastmod);
		conn_request(c, "GET /sub/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", opt.nchan, hdr);
	} else if (!us->have_cursor)
		conn_request(c, "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Authorization: Bearer %s\r\n\r\n", us->token);
	else
		conn_request(c, "GET /v1/events?cursor=%s&timeout=%d&limit=100 HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", us->cursor, opt.timeout,
		    us->token);
	us->poll_sent_us = c->req_mono;
	polls_out++;
	/* nchan: a new subscriber waits for the next message, so it counts as started. */
	if (opt.nchan != NULL)
		us->answered = true;
	if (!conn_flush(c)) {
		st.conn_errors++;
		polls_out--;
		us->poll = NULL;
		us->poll_sent_us = 0;
		conn_close(c);
		us->retry_at_us = mono_us() + 100000;
	}
}

static void
poll_send(int u)
{
	struct user	*us = &users[u];

	us->retry_at_us = 0;
	if (us->poll == NULL) {
		us->poll = conn_open(K_POLL, u);
		us->poll->pending = true;	/* written once connected */
		return;
	}
	poll_write(us->poll, u);
}

/* Records the message events of a poll's answer. */
static void
poll_events(int u, const char *body, size_t len)
{
	const char	*p = body;
	const char	*end = body + len;
	int64_t		 now_rt = real_us();
	int64_t		 now = mono_us();

	while ((p = memfind(p, (size_t)(end - p), TAG)) != NULL) {
		int64_t		 t;
		long		 k;
		char		*q;
		struct msg	*m;

		p += strlen(TAG);
		t = strtoll(p, &q, 10);
		if (strncmp(q, " k=", 3) != 0)
			continue;
		k = strtol(q + 3, &q, 10);
		if (k < 0 || k >= nmsgs) {
			st.foreign++;
			continue;
		}
		m = &msgs[k];
		if (opt.nchan == NULL && m->sender == u) {
			if (++m->echo > 1)
				st.dups++;
			sample_add(&st.echo_lat, now_rt - t);
		} else {
			m->got++;
			if (m->receiver >= 0 && m->got > 1)
				st.dups++;
			sample_add(&st.lat, now_rt - t);
		}
		if (m->round >= 0 && m->round == cur_round) {
			if (users[u].round_seen == cur_round)
				st.dups++;
			else {
				users[u].round_seen = cur_round;
				round_answered++;
				round_last_answer = now;
			}
		}
	}
}

static void
poll_done(struct conn *c, struct response *r)
{
	struct user	*us = &users[c->user];
	int64_t		 now = mono_us();
	const char	*p;

	c->pending = false;
	polls_out--;
	us->poll_sent_us = 0;
	last_answer_mono = now;
	if (r->status < MAX_STATUS)
		st.poll_status[r->status]++;
	st.poll_answers++;
	if (opt.nchan != NULL) {
		if (r->status == 200) {
			snprintf(us->etag, sizeof(us->etag), "%s", r->etag);
			snprintf(us->lastmod, sizeof(us->lastmod), "%s", r->lastmod);
			poll_events(c->user, r->body, r->bodylen);
		} else if (r->status == 304 || r->status == 408) {
			st.poll_empty++;
		} else
			us->retry_at_us = now + 1000000;
		us->answered = true;
		if (r->close && us->retry_at_us == 0)
			us->retry_at_us = now;
		if (us->retry_at_us == 0 && !stop_flag)
			poll_write(c, c->user);
		return;
	}
	if (r->status == 200) {
		p = memfind(r->body, r->bodylen, "\"cursor\":\"");
		if (p != NULL) {
			const char	*q;
			size_t		 l;

			p += 10;
			q = memchr(p, '"', (size_t)(r->body + r->bodylen - p));
			l = q ? (size_t)(q - p) : 0;
			if (l > 0 && l < sizeof(us->cursor)) {
				memcpy(us->cursor, p, l);
				us->cursor[l] = '\0';
				us->have_cursor = true;
			}
		}
		if (memfind(r->body, r->bodylen, "\"events\":[]") != NULL)
			st.poll_empty++;
		poll_events(c->user, r->body, r->bodylen);
		us->answered = true;
	} else if (r->status == 410) {
		us->have_cursor = false;
		us->retry_at_us = now + 100000;
	} else {
		if (opt.verbose)
			fprintf(stderr, "poll %s: %d %.*s\n", us->name, r->status,
			    (int)(r->bodylen > 200 ? 200 : r->bodylen), r->body ? r->body : "");
		us->retry_at_us = now + (r->retry_after > 0 ? r->retry_after : 1) * 1000000;
	}
	if (r->close && us->retry_at_us == 0)
		us->retry_at_us = now;		/* on a new connection (on_lost) */
	if (us->retry_at_us == 0 && !stop_flag)
		poll_write(c, c->user);
}

/* ---------------------------------------------------------------- users mode */

struct maker {
	int	 index;		/* user being made; -1: none */
	int	 step;		/* 0 register, 1 login */
	int64_t	 retry_at;
	struct conn *conn;
};

static struct maker	*makers;
static int		 make_next;
static int		 made;
static FILE		*make_out;

static void
maker_request(struct conn *c, struct maker *mk)
{
	char	body[256];
	int	n;

	n = snprintf(body, sizeof(body), "{\"username\":\"%s%06d\",\"password\":\"" PASSWORD
	    "\"%s}", opt.prefix, mk->index + 1, mk->step ? ",\"device_name\":\"polld\"" : "");
	conn_request(c, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	    "Content-Length: %d\r\n\r\n%s", mk->step ? "/v1/sessions" : "/v1/users", n, body);
	if (!conn_flush(c))
		die("write failed while making users");
}

static bool
json_str(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	char		 pat[64];
	const char	*p;
	const char	*q;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = memfind(body, len, pat);
	if (p == NULL)
		return false;
	p += strlen(pat);
	q = memchr(p, '"', (size_t)(body + len - p));
	if (q == NULL || (size_t)(q - p) >= outlen)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static void
maker_next(struct conn *c, struct maker *mk)
{
	if (make_next >= opt.n) {
		mk->index = -1;
		c->pending = false;
		return;
	}
	mk->index = make_next++;
	mk->step = 0;
	maker_request(c, mk);
}

static void
maker_done(struct conn *c, struct maker *mk, struct response *r)
{
	char	id[64];
	char	token[2048];

	c->pending = false;
	if (r->status == 503 || r->status == 429 || r->status == 502) {
		mk->retry_at = mono_us() + (r->retry_after > 0 ? r->retry_after * 1000000 : 300000);
		return;
	}
	if (mk->step == 0) {
		if (r->status != 201 && r->status != 409)
			die("registering %s%06d: %d %.*s", opt.prefix, mk->index + 1, r->status,
			    (int)r->bodylen, r->body);
		mk->step = 1;
		maker_request(c, mk);
		return;
	}
	if (r->status != 201 || !json_str(r->body, r->bodylen, "user_id", id, sizeof(id)) ||
	    !json_str(r->body, r->bodylen, "access_token", token, sizeof(token)))
		die("logging in %s%06d: %d %.*s", opt.prefix, mk->index + 1, r->status,
		    (int)r->bodylen, r->body);
	fprintf(make_out, "%s%06d\t%s\t%s\n", opt.prefix, mk->index + 1, id, token);
	made++;
	if (made % 500 == 0)
		fprintf(stderr, "polld: %d users\n", made);
	maker_next(c, mk);
}

/* ---------------------------------------------------------------- event loop */

static void dispatch(struct conn *c, struct response *r);

static void
on_connected(struct conn *c)
{
	c->connected = true;
	connecting--;
	if (c->kind == K_POLL && c->user >= 0 && opt.mode[0] != 'u') {
		c->pending = false;
		poll_write(c, c->user);
	} else if (c->kind == K_SEND && opt.mode[0] != 'u') {
		if (c->msg >= 0)
			send_on(c, c->msg);
		else {
			c->idle_since = mono_us();
			c->next_idle = idle_send;
			idle_send = c;
			send_pump();
		}
	} else if (opt.mode[0] == 'u') {
		if (makers[c->user].index >= 0)
			maker_request(c, &makers[c->user]);
		else
			maker_next(c, &makers[c->user]);
	}
}

/* The connection went away (EOF or error). */
static void
on_lost(struct conn *c)
{
	int	u = c->user;
	int	k = c->msg;
	bool	was_pending = c->pending;

	if (opt.mode[0] == 'u') {
		/* keep-alive ended by the server: a new connection redoes the current step */
		conn_close(c);
		makers[u].conn = conn_open(K_POLL, u);
		return;
	}
	if (c->kind == K_POLL) {
		users[u].poll = NULL;
		if (was_pending && c->connected) {
			polls_out--;
			users[u].poll_sent_us = 0;
			/* A keep-alive connection closed by the server before it read our request:
			 * send the poll again (a GET). */
			if (c->inlen == 0)
				st.poll_reconnects++;
			else
				st.conn_errors++;
		} else if (!c->connected)
			st.conn_errors++;
		conn_close(c);
		if (!stop_flag && (was_pending || users[u].retry_at_us == 0))
			users[u].retry_at_us = mono_us() + 1000;
		return;
	}
	conn_close(c);
	if (k >= 0) {
		/* The same client_msg_id again: the server answers the original if it has it. */
		st.send_retries++;
		backlog_push(k);
		send_pump();
	}
}

static void
on_readable(struct conn *c)
{
	char		buf[65536];
	ssize_t		n;
	bool		eof = false;
	struct response	r;
	size_t		consumed;
	int		rc;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (c->inlen + (size_t)n + 1 > c->incap) {
				while (c->inlen + (size_t)n + 1 > c->incap)
					c->incap *= 2;
				c->in = xrealloc(c->in, c->incap);
			}
			memcpy(c->in + c->inlen, buf, (size_t)n);
			c->inlen += (size_t)n;
			continue;
		}
		if (n == 0) {
			eof = true;
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		eof = true;
		break;
	}
	for (;;) {
		if (c->inlen == 0)
			break;
		rc = parse_response(c, &r, &consumed, eof);
		if (rc == 0)
			break;
		if (rc < 0) {
			st.conn_errors++;
			c->inlen = 0;
			eof = true;
			break;
		}
		{
			bool	close_after = r.close;

			/* dispatch may write the next request; the body stays valid in c->in. */
			dispatch(c, &r);
			free(r.dechunked);
			memmove(c->in, c->in + consumed, c->inlen - consumed);
			c->inlen -= consumed;
			c->served++;
			if (close_after) {
				eof = true;
				break;
			}
		}
	}
	if (eof)
		on_lost(c);
}

static void
dispatch(struct conn *c, struct response *r)
{
	if (opt.mode[0] == 'u') {
		maker_done(c, &makers[c->user], r);
		return;
	}
	if (c->kind == K_POLL) {
		poll_done(c, r);
		return;
	}
	send_done(c, r);
	if (c->msg < 0 && !r->close) {
		c->idle_since = mono_us();
		c->next_idle = idle_send;
		idle_send = c;
	}
}

/* One round of the loop: events for at most wait_ms. */
static void
loop_once(int wait_ms)
{
	struct epoll_event	 evs[1024];
	int			 n;
	int			 i;

	n = epoll_wait(ep, evs, 1024, wait_ms);
	if (n < 0) {
		if (errno == EINTR)
			return;
		die("epoll_wait: %s", strerror(errno));
	}
	/* A connection may be closed by an earlier event of the same batch only through its
	 * own events, so the pointers stay valid within it. */
	for (i = 0; i < n; i++) {
		struct conn	*c = evs[i].data.ptr;
		uint32_t	 e = evs[i].events;

		if (!c->connected) {
			int		err = 0;
			socklen_t	l = sizeof(err);

			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0 ||
			    (e & (EPOLLERR | EPOLLHUP))) {
				if (opt.verbose)
					fprintf(stderr, "connect: %s\n", strerror(err));
				on_lost(c);
				continue;
			}
			on_connected(c);
			continue;
		}
		if (e & EPOLLOUT) {
			if (!conn_flush(c)) {
				on_lost(c);
				continue;
			}
		}
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			on_readable(c);
	}
	send_pump();
}

/* Sends the polls that are due again (after an error or a lost connection). */
static void
retry_polls(int64_t now)
{
	int	u;

	for (u = 0; u < nusers; u++)
		if (users[u].retry_at_us != 0 && users[u].retry_at_us <= now)
			poll_send(u);
}

/* ---------------------------------------------------------------- files */

static void
load_users(void)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 cap_users = 0;
	int	 skipped = 0;

	f = fopen(opt.users_file, "r");
	if (f == NULL)
		die("cannot open %s: %s", opt.users_file, strerror(errno));
	while (getline(&line, &cap, f) > 0 && (opt.n == 0 || nusers < opt.n)) {
		char	*name;

		if (skipped < opt.skip) {
			skipped++;
			continue;
		}
		name = strtok(line, "\t\n");
		char	*id = strtok(NULL, "\t\n");
		char	*token = strtok(NULL, "\t\n");

		if (name == NULL || id == NULL || token == NULL || strcmp(token, "-") == 0)
			die("%s: a line without a token", opt.users_file);
		if (nusers == cap_users) {
			cap_users = cap_users ? cap_users * 2 : 1024;
			users = xrealloc(users, (size_t)cap_users * sizeof(*users));
		}
		memset(&users[nusers], 0, sizeof(users[nusers]));
		users[nusers].name = strdup(name);
		users[nusers].id = strdup(id);
		users[nusers].token = strdup(token);
		users[nusers].round_seen = -1;
		users[nusers].group = -1;
		nusers++;
	}
	free(line);
	fclose(f);
	if (opt.n != 0 && nusers < opt.n)
		die("%s has %d users, %d wanted", opt.users_file, nusers, opt.n);
}

static void
load_groups(void)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;

	f = fopen(opt.groups_file, "r");
	if (f == NULL)
		die("cannot open %s: %s", opt.groups_file, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		char	*id = strtok(line, "\t\n");
		char	*first = strtok(NULL, "\t\n");
		char	*count = strtok(NULL, "\t\n");
		int	 i;

		if (id == NULL || first == NULL || count == NULL)
			die("%s: want group_id<TAB>first user index<TAB>member count", opt.groups_file);
		groups = xrealloc(groups, (size_t)(ngroups + 1) * sizeof(*groups));
		groups[ngroups].id = strdup(id);
		groups[ngroups].first = atoi(first);
		groups[ngroups].count = atoi(count);
		if (groups[ngroups].first + groups[ngroups].count > nusers)
			break;		/* a group beyond the users taken part: left out */
		for (i = 0; i < groups[ngroups].count; i++)
			users[groups[ngroups].first + i].group = ngroups;
		ngroups++;
	}
	free(line);
	fclose(f);
	if (ngroups == 0)
		die("%s: no group within the first %d users", opt.groups_file, nusers);
}

/* ---------------------------------------------------------------- /proc */

static void
monitor_report(const char *when)
{
	char	*spec;
	char	*item;
	char	*save = NULL;

	if (opt.monitor == NULL)
		return;
	spec = strdup(opt.monitor);
	for (item = strtok_r(spec, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char	*eq = strchr(item, '=');
		char	 path[128];
		char	 line[256];
		long	 rss = -1, hwm = -1, threads = -1, fds = 0;
		FILE	*f;

		if (eq == NULL)
			continue;
		*eq = '\0';
		snprintf(path, sizeof(path), "/proc/%s/status", eq + 1);
		f = fopen(path, "r");
		if (f == NULL) {
			printf("PROC %s %s pid=%s gone\n", when, item, eq + 1);
			continue;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			sscanf(line, "VmRSS: %ld", &rss);
			sscanf(line, "VmHWM: %ld", &hwm);
			sscanf(line, "Threads: %ld", &threads);
		}
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%s/fd", eq + 1);
		{
			char	cmd[160];
			FILE	*p;

			snprintf(cmd, sizeof(cmd), "ls %s | wc -l", path);
			p = popen(cmd, "r");
			if (p != NULL) {
				if (fscanf(p, "%ld", &fds) != 1)
					fds = -1;
				pclose(p);
			}
		}
		printf("PROC %s %s pid=%s VmRSS_kB=%ld VmHWM_kB=%ld threads=%ld fds=%ld\n", when,
		    item, eq + 1, rss, hwm, threads, fds);
	}
	fflush(stdout);
	free(spec);
}

/* ---------------------------------------------------------------- phases */

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Opens a poll for every user, ramp at a time, and waits until all are held and quiet. */
static void
start_polls(void)
{
	int	next = 0;
	int64_t	t0 = mono_us();
	int64_t	now;
	int	u;
	int	held;

	while (!stop_flag) {
		/* ramp: at most opt.ramp connections being opened or not yet answered once */
		int	starting = 0;

		for (u = 0; u < next; u++)
			if (!users[u].answered)
				starting++;
		while (next < nusers && starting < opt.ramp) {
			poll_send(next++);
			starting++;
		}
		loop_once(10);
		now = mono_us();
		retry_polls(now);
		held = 0;
		for (u = 0; u < nusers; u++)
			if (users[u].answered && users[u].poll_sent_us != 0 &&
			    now - users[u].poll_sent_us >= opt.settle_ms * 1000)
				held++;
		if (next == nusers && held == nusers &&
		    now - last_answer_mono >= opt.settle_ms * 1000)
			break;
		if (now - t0 > (int64_t)opt.ramp_limit_s * 1000000) {
			fprintf(stderr, "polld: only %d of %d polls held after %d s (%d started); "
			    "going on\n", held, nusers, opt.ramp_limit_s, next);
			held_at_start = held;
			return;
		}
	}
	held_at_start = nusers;
	fprintf(stderr, "polld: %d polls held after %.1f s\n", nusers,
	    (double)(mono_us() - t0) / 1e6);
}

static void
run_for(double seconds)
{
	int64_t	end = mono_us() + (int64_t)(seconds * 1e6);

	while (!stop_flag && mono_us() < end) {
		loop_once(5);
		retry_polls(mono_us());
	}
}

static void
print_errors(char *out, size_t outlen)
{
	size_t	len = 0;
	int	i;

	out[0] = '\0';
	for (i = 0; i < MAX_STATUS; i++)
		if (st.poll_status[i] && i != 200)
			len += (size_t)snprintf(out + len, outlen - len, " poll_%d=%lu", i,
			    st.poll_status[i]);
	for (i = 0; i < MAX_STATUS; i++)
		if (st.send_status[i] && i != 201 && i != 200 && i != 202)
			len += (size_t)snprintf(out + len, outlen - len, " send_%d=%lu", i,
			    st.send_status[i]);
}

static unsigned long
sum_non(const unsigned long *a, int ok1, int ok2, int ok3)
{
	unsigned long	s = 0;
	int		i;

	for (i = 0; i < MAX_STATUS; i++)
		if (i != ok1 && i != ok2 && i != ok3)
			s += a[i];
	return s;
}

static void
mode_rate(void)
{
	int64_t	t0;
	int64_t	now;
	long	issued = 0;
	long	due;
	long	lost = 0, sent_ok = 0, dropped;
	int64_t	end;
	int	k;
	char	a[256], b[256], c[256], errs[2048];

	if (nusers < 2)
		die("rate: at least 2 users");
	start_polls();
	monitor_report("held");
	if (opt.hold_s > 0)
		run_for(opt.hold_s);
	fprintf(stderr, "polld: sending %.0f messages/s for %.0f s\n", opt.rate, opt.duration);
	t0 = mono_us();
	while (!stop_flag) {
		now = mono_us();
		if (now - t0 >= (int64_t)(opt.duration * 1e6))
			break;
		due = (long)((double)(now - t0) * opt.rate / 1e6);
		while (issued < due) {
			int	s = (int)(random() % nusers);
			int	r = (int)(random() % (nusers - 1));

			if (r >= s)
				r++;
			send_msg(msg_new(s, r, -1, -1));
			issued++;
		}
		loop_once(1);
		retry_polls(mono_us());
	}
	/* Messages still waiting for a send connection are not sent at all. */
	dropped = backlog_len;
	backlog_len = 0;
	fprintf(stderr, "polld: %ld messages issued, %ld never sent (no free connection); waiting "
	    "%.0f s for the last deliveries\n", issued, dropped, opt.grace);
	run_for(opt.grace);
	end = mono_us();
	monitor_report("end");
	for (k = 0; k < nmsgs; k++) {
		if (msgs[k].status == 201 || msgs[k].status == 200) {
			sent_ok++;
			/* undelivered: answered 201 at least 2 s before the end, never received */
			if (msgs[k].got == 0 && end - msgs[k].acked_mono >= 2000000)
				lost++;
		}
	}
	summary("lat", &st.lat, a, sizeof(a));
	summary("echo", &st.echo_lat, b, sizeof(b));
	summary("send", &st.send_lat, c, sizeof(c));
	print_errors(errs, sizeof(errs));
	printf("RESULT mode=rate users=%d held=%d rate=%.0f duration=%.0f issued=%ld never_sent=%ld "
	    "sent_ok=%ld "
	    "undelivered=%ld dups=%lu %s %s %s poll_answers=%lu poll_empty=%lu poll_non200=%lu "
	    "poll_503=%lu send_non2xx=%lu send_retries=%lu conn_errors=%lu poll_reconnects=%lu "
	    "late_sends=%lu backlog_end=%d%s\n",
	    nusers, held_at_start, opt.rate, opt.duration, issued, dropped, sent_ok, lost, st.dups, a, b, c,
	    st.poll_answers, st.poll_empty, sum_non(st.poll_status, 200, -1, -1),
	    st.poll_status[503], sum_non(st.send_status, 200, 201, 202), st.send_retries,
	    st.conn_errors, st.poll_reconnects, st.late_sends, backlog_len, errs);
}

static void
mode_burst(void)
{
	int	round;
	int	audience;
	int	failed_rounds = 0;
	long	missing_total = 0;
	char	a[256], b[256], c[256], d[256], e[256], errs[2048];

	if (opt.groups_file != NULL)
		load_groups();
	audience = nusers;
	if (ngroups > 0) {
		int	g;

		audience = 0;
		for (g = 0; g < ngroups; g++)
			audience += groups[g].count;
	} else if (opt.nchan == NULL && nusers % 2 != 0)
		die("burst with direct messages: an even number of users");
	start_polls();
	monitor_report("held");
	if (opt.hold_s > 0) {
		run_for(opt.hold_s);
		monitor_report("held-after-wait");
	}
	for (round = 0; round < opt.rounds && !stop_flag; round++) {
		int64_t	quiet_since;
		int64_t	deadline;
		int	i;

		/* Quiet: every poll held, nothing answered for settle_ms. */
		run_for(round == 0 ? 0 : opt.round_gap);
		quiet_since = mono_us();
		while (!stop_flag) {
			int64_t	now = mono_us();
			int	held = 0;
			int	u;

			for (u = 0; u < nusers; u++)
				if (users[u].poll_sent_us != 0 &&
				    now - users[u].poll_sent_us >= opt.settle_ms * 1000)
					held++;
			if (held >= held_at_start && now - last_answer_mono >= opt.settle_ms * 1000)
				break;
			/* Expiring polls (timeouts) may never leave a quiet moment: go on after
			 * the gap again. */
			if (now - quiet_since > (int64_t)((opt.round_gap > 5 ? opt.round_gap : 5) * 1e6)) {
				fprintf(stderr, "polld: round %d: %d of %d polls held, %.0f ms since the "
				    "last answer; going on\n", round, held, nusers,
				    (double)(now - last_answer_mono) / 1000.0);
				break;
			}
			loop_once(10);
			retry_polls(mono_us());
		}
		if (stop_flag)
			break;
		cur_round = round;
		round_answered = 0;
		round_last_send_ack = 0;
		round_last_answer = 0;
		round_t0 = mono_us();
		if (opt.nchan != NULL)
			send_msg(msg_new(-1, -1, -1, round));
		else if (ngroups > 0)
			for (i = 0; i < ngroups; i++)
				send_msg(msg_new(groups[i].first, -1, i, round));
		else
			for (i = 0; i < nusers; i += 2)
				send_msg(msg_new(i, i + 1, -1, round));
		deadline = round_t0 + (int64_t)opt.round_limit_s * 1000000;
		while (!stop_flag && round_answered < audience && mono_us() < deadline) {
			loop_once(1);
			retry_polls(mono_us());
		}
		if (round_answered < audience) {
			failed_rounds++;
			missing_total += audience - round_answered;
			fprintf(stderr, "polld: round %d: %d of %d answered within %d s\n", round,
			    round_answered, audience, opt.round_limit_s);
			continue;
		}
		/* the sends' answers may come after the last poll's */
		while (!stop_flag && backlog_len > 0 && mono_us() < deadline)
			loop_once(1);
		for (i = 0; i < 2000 && !stop_flag; i++) {
			int	k, inflight = 0;

			for (k = nmsgs - 1; k >= 0 && msgs[k].round == round; k--)
				if (msgs[k].status == 0)
					inflight++;
			if (inflight == 0)
				break;
			loop_once(1);
		}
		sample_add(&st.round_all, round_last_answer - round_t0);
		if (round_last_send_ack > 0) {
			sample_add(&st.round_after_ack, round_last_answer > round_last_send_ack ?
			    round_last_answer - round_last_send_ack : 0);
			sample_add(&st.round_sendspan, round_last_send_ack - round_t0);
		}
		if (opt.verbose)
			fprintf(stderr, "polld: round %d: all %d answered in %.1f ms\n", round,
			    audience, (double)(round_last_answer - round_t0) / 1000.0);
	}
	monitor_report("end");
	summary("all", &st.round_all, a, sizeof(a));
	summary("after201", &st.round_after_ack, b, sizeof(b));
	summary("lat", &st.lat, c, sizeof(c));
	summary("sendspan", &st.round_sendspan, d, sizeof(d));
	summary("send", &st.send_lat, e, sizeof(e));
	print_errors(errs, sizeof(errs));
	printf("RESULT mode=burst users=%d held=%d audience=%d groups=%d sends_per_round=%d rounds=%d "
	    "failed_rounds=%d missing=%ld dups=%lu %s %s %s %s %s poll_non200=%lu poll_503=%lu "
	    "send_non2xx=%lu conn_errors=%lu poll_reconnects=%lu%s\n",
	    nusers, held_at_start, audience, ngroups,
	    opt.nchan ? 1 : ngroups > 0 ? ngroups : nusers / 2, opt.rounds, failed_rounds,
	    missing_total, st.dups, a, b, d, c, e, sum_non(st.poll_status, 200, 304, 408),
	    st.poll_status[503], sum_non(st.send_status, 200, 201, 202), st.conn_errors,
	    st.poll_reconnects, errs);
}

static void
mode_users(void)
{
	int	i;
	int64_t	t0 = mono_us();

	if (opt.n <= 0 || opt.prefix == NULL || opt.out_file == NULL)
		die("users: -n N -P PREFIX -o FILE");
	make_out = fopen(opt.out_file, "w");
	if (make_out == NULL)
		die("cannot write %s", opt.out_file);
	makers = xmalloc((size_t)opt.conns * sizeof(*makers));
	make_next = opt.start;
	made = opt.start;
	for (i = 0; i < opt.conns; i++) {
		makers[i].index = -1;
		makers[i].conn = conn_open(K_POLL, i);
	}
	while (made < opt.n && !stop_flag) {
		int64_t	now;

		loop_once(20);
		now = mono_us();
		for (i = 0; i < opt.conns; i++)
			if (makers[i].retry_at != 0 && makers[i].retry_at <= now) {
				makers[i].retry_at = 0;
				maker_request(makers[i].conn, &makers[i]);
			}
	}
	fclose(make_out);
	fprintf(stderr, "polld: %d users in %.1f s\n", made - opt.start,
	    (double)(mono_us() - t0) / 1e6);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: polld users -p PORT -n N -P PREFIX -o FILE [-c CONC] [-S FIRST]\n"
	    "       polld rate  -p PORT -u USERS [-n N] -r RATE -d SECONDS [-w GRACE] [-c CONNS]\n"
	    "       polld burst -p PORT -u USERS [-n N] [-g GROUPS] [-k ROUNDS] [-c CONNS]\n"
	    "       polld burst --nchan CHANNEL -p PORT [-N SUBSCRIBERS] [-k ROUNDS]\n"
	    "common: -O SKIP (leave out the first SKIP users of the file) -t POLL_TIMEOUT -s SETTLE_MS -R RAMP -L RAMP_LIMIT_S -M name=pid,... -H HOLD_S\n"
	    "        -G GAP_S -v\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct rlimit	rl;
	int		i;

	if (argc < 2)
		usage();
	opt.mode = argv[1];
	for (i = 2; i < argc; i++) {
		const char	*a = argv[i];
		const char	*v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-v") == 0) {
			opt.verbose = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "-p") == 0)
			opt.port = atoi(v);
		else if (strcmp(a, "-u") == 0)
			opt.users_file = v;
		else if (strcmp(a, "-g") == 0)
			opt.groups_file = v;
		else if (strcmp(a, "--nchan") == 0)
			opt.nchan = v;
		else if (strcmp(a, "-n") == 0)
			opt.n = atoi(v);
		else if (strcmp(a, "-N") == 0)
			opt.nsub = atoi(v);
		else if (strcmp(a, "-P") == 0)
			opt.prefix = v;
		else if (strcmp(a, "-o") == 0)
			opt.out_file = v;
		else if (strcmp(a, "-r") == 0)
			opt.rate = atof(v);
		else if (strcmp(a, "-d") == 0)
			opt.duration = atof(v);
		else if (strcmp(a, "-w") == 0)
			opt.grace = atof(v);
		else if (strcmp(a, "-c") == 0)
			opt.conns = atoi(v);
		else if (strcmp(a, "-k") == 0)
			opt.rounds = atoi(v);
		else if (strcmp(a, "-t") == 0)
			opt.timeout = atoi(v);
		else if (strcmp(a, "-s") == 0)
			opt.settle_ms = atoi(v);
		else if (strcmp(a, "-R") == 0)
			opt.ramp = atoi(v);
		else if (strcmp(a, "-M") == 0)
			opt.monitor = v;
		else if (strcmp(a, "-H") == 0)
			opt.hold_s = atof(v);
		else if (strcmp(a, "-G") == 0)
			opt.round_gap = atof(v);
		else if (strcmp(a, "-L") == 0)
			opt.ramp_limit_s = atoi(v);
		else if (strcmp(a, "-S") == 0)
			opt.start = atoi(v);
		else if (strcmp(a, "-O") == 0)
			opt.skip = atoi(v);
		else if (strcmp(a, "-D") == 0)
			opt.round_limit_s = atoi(v);
		else
			usage();
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.conns < 1)
		usage();
	memset(&server, 0, sizeof(server));
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)opt.port);
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid() ^ (unsigned)real_us());
	snprintf(run_tag, sizeof(run_tag), "pd%lx%x", (unsigned long)(real_us() / 1000000),
	    (unsigned)getpid());
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	if (strcmp(opt.mode, "users") == 0) {
		mode_users();
		return 0;
	}
	if (opt.nchan != NULL) {
		nusers = opt.nsub;
		users = xmalloc((size_t)nusers * sizeof(*users));
		for (i = 0; i < nusers; i++) {
			users[i].round_seen = -1;
			users[i].group = -1;
			users[i].name = "sub";
		}
	} else {
		if (opt.users_file == NULL)
			usage();
		load_users();
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)(nusers + opt.conns + 64))
		die("open files limit %lu is below %d users + %d send connections: raise ulimit -n",
		    (unsigned long)rl.rlim_cur, nusers, opt.conns);
	if (strcmp(opt.mode, "rate") == 0)
		mode_rate();
	else if (strcmp(opt.mode, "burst") == 0)
		mode_burst();
	else
		usage();
	return 0;
}
