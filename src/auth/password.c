/* SPDX-License-Identifier: MIT */
/*
 * Password hashing with libsodium's argon2id (t = 2, m = 19 MiB: OWASP's minimum) on a
 * pool of a few threads with a bounded queue. A request thread hands its job to the pool
 * and waits; when the queue is full it gets ERR_UNAVAILABLE at once, so a burst of logins
 * ties up at most threads + queue request threads and the rest keep serving.
 */
#include "config.h"
#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/log.h"

#define PW_OPSLIMIT	2
#define PW_MEMLIMIT	(19u * 1024u * 1024u)

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer fits");

enum job_kind { JOB_HASH, JOB_VERIFY };

struct job {
	enum job_kind	 kind;
	const char	*pw;
	const char	*hash;		/* JOB_VERIFY */
	char		*out;		/* JOB_HASH */
	bool		 ok;
	bool		 done;
	pthread_cond_t	 cond;
	struct job	*next;
};

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 work;
	struct job	*head;
	struct job	*tail;
	unsigned	 queued;	/* jobs waiting or running */
	unsigned	 capacity;	/* threads + queue */
	unsigned	 nthreads;
	pthread_t	*threads;
	bool		 stopping;
	char		 dummy[crypto_pwhash_STRBYTES];
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER };

static void
run_job(struct job *j)
{
	if (j->kind == JOB_HASH)
		j->ok = crypto_pwhash_str(j->out, j->pw, strlen(j->pw), PW_OPSLIMIT,
		    PW_MEMLIMIT) == 0;
	else
		j->ok = crypto_pwhash_str_verify(j->hash, j->pw, strlen(j->pw)) == 0;
}

static void *
worker(void *arg)
{
	struct job	*j;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.head == NULL && !pool.stopping)
			pthread_cond_wait(&pool.work, &pool.mu);
		if (pool.head == NULL)
			break;
		j = pool.head;
		pool.head = j->next;
		if (pool.head == NULL)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.mu);
		run_job(j);
		pthread_mutex_lock(&pool.mu);
		j->done = true;
		pool.queued--;
		pthread_cond_signal(&j->cond);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

void
password_pool_start(unsigned threads, unsigned queue)
{
	unsigned	i;

	if (sodium_init() < 0) {
		log_error("libsodium cannot start");
		abort();
	}
	/* The dummy hash that unknown usernames are checked against. */
	if (crypto_pwhash_str(pool.dummy, "not a password", 14, PW_OPSLIMIT, PW_MEMLIMIT) != 0)
		abort();
	pool.capacity = threads + queue;
	pool.nthreads = threads;
	pool.threads = calloc(threads, sizeof(pthread_t));
	if (pool.threads == NULL)
		abort();
	for (i = 0; i < threads; i++) {
		if (pthread_create(&pool.threads[i], NULL, worker, NULL) != 0)
			abort();
		pthread_setname_np(pool.threads[i], "chatd-hash");
	}
}

void
password_pool_stop(void)
{
	unsigned	i;

	pthread_mutex_lock(&pool.mu);
	pool.stopping = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	for (i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.nthreads = 0;
}

/* Queues j and waits for it; ERR_UNAVAILABLE when the pool is full or stopping. */
static enum err
submit(struct job *j)
{
	pthread_mutex_lock(&pool.mu);
	if (pool.stopping || pool.queued >= pool.capacity || pool.nthreads == 0) {
		pthread_mutex_unlock(&pool.mu);
		return ERR_UNAVAILABLE;
	}
	pthread_cond_init(&j->cond, NULL);
	j->done = false;
	j->next = NULL;
	if (pool.tail != NULL)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pool.queued++;
	pthread_cond_signal(&pool.work);
	while (!j->done)
		pthread_cond_wait(&j->cond, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
	pthread_cond_destroy(&j->cond);
	return ERR_OK;
}

enum err
password_hash(const char *pw, char *out, size_t outlen)
{
	struct job	j;
	enum err	e;

	if (outlen < crypto_pwhash_STRBYTES)
		return ERR_INTERNAL;
	memset(&j, 0, sizeof(j));
	j.kind = JOB_HASH;
	j.pw = pw;
	j.out = out;
	e = submit(&j);
	if (e != ERR_OK)
		return e;
	return j.ok ? ERR_OK : ERR_INTERNAL;
}

enum err
password_verify(const char *hash, const char *pw, bool *match)
{
	struct job	j;
	enum err	e;

	*match = false;
	memset(&j, 0, sizeof(j));
	j.kind = JOB_VERIFY;
	j.pw = pw;
	j.hash = hash != NULL ? hash : pool.dummy;
	e = submit(&j);
	if (e != ERR_OK)
		return e;
	*match = hash != NULL && j.ok;
	return ERR_OK;
}
