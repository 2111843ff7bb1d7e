/* SPDX-License-Identifier: MIT */
/*
 * The park: held long-polls.
 *
 * A worker that gets a poll to hold hands its connection here (detached from libfcgi,
 * raw.c) and goes back to accepting. An entry is PARKED (waiting), READY (queued for an answering
 * thread) or BUSY (being answered). Three things make an entry READY: a wake-up naming
 * its user (from the Redis listener), its due time (the deadline, or a short re-check
 * after a wake-up that found nothing yet: a woken poll's rows may still sit above the
 * feed's horizon while an unrelated transaction finishes), and, while Redis is down, a
 * re-read every second. Answering threads read the events with their own connections;
 * a poll that still has nothing goes back to PARKED.
 *
 * Indexes: a hash of users (to wake by user, and to cap polls per device), a binary heap
 * of due times (for the timer thread), and a FIFO of READY entries. One mutex guards all
 * of it; the database work happens outside it.
 */
#include "config.h"
#include "internal.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "base/text.h"
#include "router/router.h"
#include "settings.h"

#define USER_BUCKETS		16384
#define POLLS_PER_DEVICE	4
#define RECHECK_FIRST_US	5000
#define RECHECK_MAX_US		1000000
#define DOWN_REREAD_US		1000000
#define ANSWER_BATCH		256

enum held_state { H_PARKED, H_READY, H_BUSY };

struct held {
	struct raw_conn	 c;
	bool		 answered;
	struct hold	 h;
	int64_t		 start_us;
	int64_t		 recheck_us;	/* 0: none */
	unsigned	 rechecks;	/* in a row, while rows wait above the horizon */
	bool		 pending;	/* its last read saw such rows */
	enum held_state	 state;
	bool		 final;
	bool		 woken;		/* made ready while BUSY */
	bool		 dirty;		/* woken since its last read: read again */
	bool		 eph_dirty;	/* ... and its Redis stream too */
	bool		 fresh;		/* not read yet: its first read acknowledges */
	struct held	*user_next;	/* hash chain */
	struct held	*id_next;	/* chain of the poll id hash */
	struct held	*ready_next;
	size_t		 heap_idx;
};

static struct {
	pthread_mutex_t		 mu;
	pthread_cond_t		 ready_cv;	/* answering threads */
	pthread_cond_t		 timer_cv;
	pthread_cond_t		 empty_cv;	/* drain */
	struct held		*users[USER_BUCKETS];
	struct held		*ids[USER_BUCKETS];	/* by poll id */
	int			 epfd;		/* the held connections, for hang-ups */
	int			 stopfd;	/* wakes the reaper to stop */
	pthread_t		 reaper;
	struct held		**heap;
	size_t			 heap_len;
	size_t			 heap_cap;
	struct held		*ready_head;	/* woken: their answers go first */
	struct held		*ready_tail;
	struct held		*fresh_head;	/* new polls waiting for their first read */
	struct held		*fresh_tail;
	unsigned		 count;
	unsigned		 max;
	bool			 redis_down;
	int64_t			 next_down_reread_us;
	bool			 stopping;
	bool			 draining;
	const struct settings	*cfg;
	pthread_t		*threads;
	unsigned		 nthreads;
	pthread_t		 timer;
} park = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.ready_cv = PTHREAD_COND_INITIALIZER,
	.empty_cv = PTHREAD_COND_INITIALIZER,
};

static uint32_t
hash_user(const char *id)
{
	uint32_t	h;

	h = 2166136261u;
	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static int64_t
due_of(const struct held *e)
{
	if (e->recheck_us != 0 && e->recheck_us < e->h.deadline_us)
		return e->recheck_us;
	return e->h.deadline_us;
}

/* ---------------------------------------------------------------- heap of due times */

static void
heap_swap(size_t a, size_t b)
{
	struct held	*t;

	t = park.heap[a];
	park.heap[a] = park.heap[b];
	park.heap[b] = t;
	park.heap[a]->heap_idx = a;
	park.heap[b]->heap_idx = b;
}

static void
heap_fix(size_t i)
{
	size_t	l;
	size_t	m;

	while (i > 0 && due_of(park.heap[(i - 1) / 2]) > due_of(park.heap[i])) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < park.heap_len && due_of(park.heap[l]) < due_of(park.heap[m]))
			m = l;
		if (l + 1 < park.heap_len && due_of(park.heap[l + 1]) < due_of(park.heap[m]))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void
heap_push(struct held *e)
{
	if (park.heap_len == park.heap_cap) {
		park.heap_cap = park.heap_cap == 0 ? 1024 : park.heap_cap * 2;
		park.heap = realloc(park.heap, park.heap_cap * sizeof(struct held *));
		if (park.heap == NULL)
			abort();
	}
	e->heap_idx = park.heap_len;
	park.heap[park.heap_len++] = e;
	heap_fix(e->heap_idx);
}

static void
heap_remove(struct held *e)
{
	size_t	i;

	i = e->heap_idx;
	park.heap_len--;
	if (i != park.heap_len) {
		park.heap[i] = park.heap[park.heap_len];
		park.heap[i]->heap_idx = i;
		heap_fix(i);
	}
}

/* ---------------------------------------------------------------- states */

/* Queues e for an answering thread; dirty when something may have changed since its
 * last read (a wake-up, a re-check), as opposed to its deadline or its replacement,
 * which answer what it has without reading. */
static void
make_ready(struct held *e, bool dirty)
{
	if (dirty)
		e->dirty = true;
	if (e->state == H_BUSY) {
		e->woken = true;
		return;
	}
	if (e->state == H_READY)
		return;
	e->state = H_READY;
	e->ready_next = NULL;
	if (park.ready_tail != NULL)
		park.ready_tail->ready_next = e;
	else
		park.ready_head = e;
	park.ready_tail = e;
	pthread_cond_signal(&park.ready_cv);
}

static void
user_unlink(struct held *e)
{
	struct held	**pp;

	pp = &park.users[hash_user(e->h.user_id) % USER_BUCKETS];
	while (*pp != NULL && *pp != e)
		pp = &(*pp)->user_next;
	if (*pp == e)
		*pp = e->user_next;
	pp = &park.ids[e->h.poll_id % USER_BUCKETS];
	while (*pp != NULL && *pp != e)
		pp = &(*pp)->id_next;
	if (*pp == e)
		*pp = e->id_next;
}

static struct held *
by_id(uint64_t poll_id)
{
	struct held	*e;

	for (e = park.ids[poll_id % USER_BUCKETS]; e != NULL; e = e->id_next)
		if (e->h.poll_id == poll_id)
			return e;
	return NULL;
}

static void
set_count(unsigned n)
{
	park.count = n;
	http_hold_count_set(n, park.max);
}

/* Caps a device at POLLS_PER_DEVICE: the oldest of the others answers at once. */
static void
cap_device(const struct hold *h)
{
	struct held	*e;
	struct held	*oldest;
	unsigned	 n;

	n = 0;
	oldest = NULL;
	for (e = park.users[hash_user(h->user_id) % USER_BUCKETS]; e != NULL; e = e->user_next) {
		if (strcmp(e->h.device_id, h->device_id) != 0 || e->final)
			continue;
		n++;
		if (e->state != H_BUSY && (oldest == NULL || e->start_us < oldest->start_us))
			oldest = e;
	}
	if (n >= POLLS_PER_DEVICE && oldest != NULL) {
		oldest->final = true;
		make_ready(oldest, false);
	}
}

/* The web server closes a held request's connection when its client goes away (nginx)
 * or when its own timeout fires: the reaper hears of it (a hang-up on the descriptor)
 * and has the poll answered at once (into the void), so that it stops counting against
 * the process's cap. lighttpd keeps the connection while its client is gone, which the
 * cap of 4 polls per device and the deadlines bound. */
static void
watch(struct held *e)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLRDHUP | EPOLLONESHOT;
	ev.data.u64 = e->h.poll_id;
	(void)epoll_ctl(park.epfd, EPOLL_CTL_ADD, e->c.fd, &ev);
}

static void *
reaper_main(void *arg)
{
	struct epoll_event	 evs[256];
	struct held		*e;
	int			 n;
	int			 i;

	(void)arg;
	for (;;) {
		n = epoll_wait(park.epfd, evs, 256, 1000);
		pthread_mutex_lock(&park.mu);
		if (park.stopping) {
			pthread_mutex_unlock(&park.mu);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			e = by_id(evs[i].data.u64);
			if (e == NULL || e->answered)
				continue;
			e->final = true;
			make_ready(e, false);
		}
		pthread_mutex_unlock(&park.mu);
	}
}

/* Queues a new poll for its first read, behind the woken ones. */
static void
queue_fresh(struct held *e)
{
	e->state = H_READY;
	e->ready_next = NULL;
	if (park.fresh_tail != NULL)
		park.fresh_tail->ready_next = e;
	else
		park.fresh_head = e;
	park.fresh_tail = e;
	pthread_cond_signal(&park.ready_cv);
}

bool
park_add(const struct raw_conn *c, const struct hold *h, int64_t start_us)
{
	struct held	*e;
	struct held	**bucket;

	pthread_mutex_lock(&park.mu);
	if (park.count >= park.max || park.draining) {
		pthread_mutex_unlock(&park.mu);
		return false;
	}
	cap_device(h);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	e->c = *c;
	e->h = *h;
	e->start_us = start_us;
	e->state = H_PARKED;
	bucket = &park.users[hash_user(h->user_id) % USER_BUCKETS];
	e->user_next = *bucket;
	*bucket = e;
	bucket = &park.ids[h->poll_id % USER_BUCKETS];
	e->id_next = *bucket;
	*bucket = e;
	watch(e);
	heap_push(e);
	set_count(park.count + 1);
	e->fresh = true;
	queue_fresh(e);
	pthread_cond_signal(&park.timer_cv);
	pthread_mutex_unlock(&park.mu);
	return true;
}

void
park_wake_users(const char *const *user_ids, size_t count, bool ephemeral)
{
	struct held	*e;
	uint32_t	 h;
	size_t		 i;

	pthread_mutex_lock(&park.mu);
	for (i = 0; i < count; i++) {
		h = hash_user(user_ids[i]);
		for (e = park.users[h % USER_BUCKETS]; e != NULL; e = e->user_next)
			if (strcmp(e->h.user_id, user_ids[i]) == 0) {
				e->eph_dirty = e->eph_dirty || ephemeral;
				make_ready(e, true);
			}
	}
	pthread_mutex_unlock(&park.mu);
}

void
park_evict(uint64_t poll_id)
{
	struct held	*e;

	pthread_mutex_lock(&park.mu);
	e = by_id(poll_id);
	if (e != NULL) {
		e->final = true;
		make_ready(e, false);
	}
	pthread_mutex_unlock(&park.mu);
}

static void
wake_all_locked(void)
{
	size_t	i;

	for (i = 0; i < park.heap_len; i++) {
		park.heap[i]->eph_dirty = true;
		make_ready(park.heap[i], true);
	}
}

void
park_redis_state(bool down)
{
	pthread_mutex_lock(&park.mu);
	park.redis_down = down;
	/* Up again: wake-ups may have been lost while the listener was away. */
	if (!down)
		wake_all_locked();
	park.next_down_reread_us = text_mono_us() + DOWN_REREAD_US;
	pthread_cond_signal(&park.timer_cv);
	pthread_mutex_unlock(&park.mu);
}

/* ---------------------------------------------------------------- threads */

static void *
timer_main(void *arg)
{
	struct timespec	 ts;
	struct held	*e;
	int64_t		 now;
	int64_t		 next;
	bool		 dirty;

	(void)arg;
	pthread_mutex_lock(&park.mu);
	while (!park.stopping) {
		now = text_mono_us();
		while (park.heap_len > 0 && due_of(park.heap[0]) <= now &&
		    park.heap[0]->state == H_PARKED) {
			e = park.heap[0];
			if (e->h.deadline_us <= now)
				e->final = true;
			dirty = e->recheck_us != 0 && e->recheck_us <= now;
			e->recheck_us = 0;
			heap_fix(0);
			make_ready(e, dirty);
		}
		if (park.redis_down && now >= park.next_down_reread_us) {
			wake_all_locked();
			park.next_down_reread_us = now + DOWN_REREAD_US;
		}
		next = now + 1000000;
		if (park.heap_len > 0 && park.heap[0]->state == H_PARKED && due_of(park.heap[0]) < next)
			next = due_of(park.heap[0]);
		/* An entry due but READY or BUSY is handled when it comes back. */
		if (park.heap_len > 0 && park.heap[0]->state != H_PARKED && now + 5000 < next)
			next = now + 5000;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)((next - now) / 1000000);
		ts.tv_nsec += (long)((next - now) % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&park.timer_cv, &park.mu, &ts);
	}
	pthread_mutex_unlock(&park.mu);
	return NULL;
}

/* Answers (or keeps) a batch of entries, outside the lock: one read for all. An
 * answered entry's connection is closed and the entry marked answered. */
static void
answer(struct worker_res *res, struct held **batch, const bool *dirty, const bool *eph,
    size_t n)
{
	struct req	 *rqs;
	struct req	**ptrs;
	struct raw_out	 *outs;
	enum err	 *errs;
	size_t		  i;

	rqs = arena_alloc(res->arena, sizeof(*rqs) * n);
	ptrs = arena_alloc(res->arena, sizeof(struct req *) * n);
	outs = arena_alloc(res->arena, sizeof(*outs) * n);
	errs = arena_alloc(res->arena, sizeof(*errs) * n);
	for (i = 0; i < n; i++) {
		fcgi_req_init(&rqs[i], res, NULL);
		raw_req_output(&rqs[i], res->arena, &outs[i]);
		rqs[i].start_us = batch[i]->start_us;
		rqs[i].method_name = "GET";
		rqs[i].path = "/v1/events";
		rqs[i].hold = batch[i]->h;
		rqs[i].hold_final = batch[i]->final;
		rqs[i].hold_dirty = dirty[i];
		rqs[i].hold_eph = eph[i];
		rqs[i].hold_fresh = batch[i]->fresh;
		ptrs[i] = &rqs[i];
	}
	router_resume(ptrs, n, errs);
	for (i = 0; i < n; i++) {
		if (errs[i] == ERR_OK && rqs[i].hold_requested) {
			batch[i]->h = rqs[i].hold;
			batch[i]->pending = rqs[i].hold_pending;
			continue;
		}
		raw_req_finish(&rqs[i], &batch[i]->c, &outs[i], errs[i]);
		batch[i]->answered = true;
	}
	arena_reset(res->arena);
}

/* Back under the lock after answer(): forget the entry, or park it again. */
static void
settle(struct held *e)
{
	if (e->answered) {
		user_unlink(e);
		heap_remove(e);
		free(e);
		set_count(park.count - 1);
		if (park.count == 0)
			pthread_cond_broadcast(&park.empty_cv);
		return;
	}
	e->state = H_PARKED;
	e->fresh = false;
	if (e->woken || park.draining) {
		e->woken = false;
		e->final = e->final || park.draining;
		make_ready(e, false);
	} else if (e->pending) {
		/* Its rows are committed but above the horizon (an older transaction is
		 * still open): look again shortly, 5 ms, then twice as long each time up to a
		 * second, until they are visible or its time is up. */
		e->recheck_us = text_mono_us() +
		    (e->rechecks < 8 ? RECHECK_FIRST_US << e->rechecks : RECHECK_MAX_US);
		if (e->recheck_us - text_mono_us() > RECHECK_MAX_US)
			e->recheck_us = text_mono_us() + RECHECK_MAX_US;
		e->rechecks++;
	} else
		e->rechecks = 0;
	heap_fix(e->heap_idx);
	pthread_cond_signal(&park.timer_cv);
}

static void *
answer_main(void *arg)
{
	struct worker_res	 res;
	struct held		*batch[ANSWER_BATCH];
	bool			 dirty[ANSWER_BATCH];
	bool			 eph[ANSWER_BATCH];
	size_t			 n;
	size_t			 i;

	(void)arg;
	worker_res_init(&res, park.cfg);
	pthread_mutex_lock(&park.mu);
	for (;;) {
		while (park.ready_head == NULL && park.fresh_head == NULL && !park.stopping)
			pthread_cond_wait(&park.ready_cv, &park.mu);
		if (park.ready_head == NULL && park.fresh_head == NULL)
			break;
		/* Take a batch: the polls woken by one group message are read together, and
		 * before new polls (whose clients have their answers already), which fill
		 * what room is left. */
		n = 0;
		while (n < ANSWER_BATCH && park.ready_head != NULL) {
			batch[n] = park.ready_head;
			park.ready_head = batch[n]->ready_next;
			n++;
		}
		if (park.ready_head == NULL)
			park.ready_tail = NULL;
		while (n < ANSWER_BATCH && park.fresh_head != NULL) {
			batch[n] = park.fresh_head;
			park.fresh_head = batch[n]->ready_next;
			n++;
		}
		if (park.fresh_head == NULL)
			park.fresh_tail = NULL;
		for (i = 0; i < n; i++) {
			batch[i]->state = H_BUSY;
			dirty[i] = batch[i]->dirty;
			eph[i] = batch[i]->eph_dirty;
			batch[i]->dirty = false;
			batch[i]->eph_dirty = false;
		}
		if (park.ready_head != NULL || park.fresh_head != NULL)
			pthread_cond_signal(&park.ready_cv);
		pthread_mutex_unlock(&park.mu);
		answer(&res, batch, dirty, eph, n);
		pthread_mutex_lock(&park.mu);
		for (i = 0; i < n; i++)
			settle(batch[i]);
	}
	pthread_mutex_unlock(&park.mu);
	worker_res_fini(&res);
	return NULL;
}

void
park_users(struct arena *a, const char ***user_ids, size_t *count)
{
	const char	**ids;
	size_t		  n;
	size_t		  i;
	size_t		  j;
	bool		  dup;

	pthread_mutex_lock(&park.mu);
	ids = arena_alloc(a, sizeof(*ids) * (park.heap_len > 0 ? park.heap_len : 1));
	n = 0;
	for (i = 0; i < park.heap_len; i++) {
		/* A duplicate only costs an extra touch: compare with the last few. */
		dup = false;
		for (j = n; j > 0 && j + 8 > n && !dup; j--)
			dup = strcmp(ids[j - 1], park.heap[i]->h.user_id) == 0;
		if (!dup)
			ids[n++] = arena_strdup(a, park.heap[i]->h.user_id);
	}
	pthread_mutex_unlock(&park.mu);
	*user_ids = ids;
	*count = n;
}

void
park_start(const struct settings *cfg)
{
	struct epoll_event	ev;
	pthread_condattr_t	attr;
	unsigned		i;

	/* The timer waits on the monotonic clock, like every due time here. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&park.timer_cv, &attr);
	pthread_condattr_destroy(&attr);
	park.cfg = cfg;
	park.max = cfg->max_held;
	http_hold_count_set(0, park.max);
	park.nthreads = cfg->poll_threads;
	park.threads = calloc(park.nthreads, sizeof(*park.threads));
	if (park.threads == NULL)
		abort();
	for (i = 0; i < park.nthreads; i++) {
		if (pthread_create(&park.threads[i], NULL, answer_main, NULL) != 0)
			abort();
		pthread_setname_np(park.threads[i], "chatd-answer");
	}
	if (pthread_create(&park.timer, NULL, timer_main, NULL) != 0)
		abort();
	pthread_setname_np(park.timer, "chatd-timer");
	park.epfd = epoll_create1(EPOLL_CLOEXEC);
	park.stopfd = eventfd(0, EFD_CLOEXEC);
	if (park.epfd < 0 || park.stopfd < 0)
		abort();
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = 0;	/* no poll has id 0 */
	if (epoll_ctl(park.epfd, EPOLL_CTL_ADD, park.stopfd, &ev) != 0)
		abort();
	if (pthread_create(&park.reaper, NULL, reaper_main, NULL) != 0)
		abort();
	pthread_setname_np(park.reaper, "chatd-reaper");
}

void
park_drain(void)
{
	unsigned	i;

	pthread_mutex_lock(&park.mu);
	park.draining = true;
	for (i = 0; i < park.heap_len; i++) {
		park.heap[i]->final = true;
		make_ready(park.heap[i], false);
	}
	while (park.count > 0)
		pthread_cond_wait(&park.empty_cv, &park.mu);
	park.stopping = true;
	pthread_cond_broadcast(&park.ready_cv);
	pthread_cond_signal(&park.timer_cv);
	pthread_mutex_unlock(&park.mu);
	for (i = 0; i < park.nthreads; i++)
		pthread_join(park.threads[i], NULL);
	pthread_join(park.timer, NULL);
	(void)eventfd_write(park.stopfd, 1);
	pthread_join(park.reaper, NULL);
	(void)close(park.epfd);
	(void)close(park.stopfd);
	free(park.threads);
	free(park.heap);
	park.heap = NULL;
}
