/* SPDX-License-Identifier: MIT */
/*
 * Arena: a list of chunks bumped from the front, plus a stack of deferred cleanups.
 * The first chunk is kept across resets so that a worker's steady state allocates
 * nothing from malloc; larger requests get a chunk of their own.
 */
#include "config.h"
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define ARENA_CHUNK_BYTES	(16 * 1024)
#define ARENA_ALIGN		(_Alignof(max_align_t))

struct chunk {
	struct chunk	*next;
	size_t		 cap;
	size_t		 used;
	_Alignas(max_align_t) unsigned char data[];
};

struct deferred {
	struct deferred		*next;
	arena_cleanup_fn	*fn;
	void			*ptr;
};

struct arena {
	struct chunk	*head;		/* current chunk; the first chunk is the tail */
	struct chunk	*big;		/* blocks too large for a chunk, one each */
	struct deferred	*cleanups;	/* most recent first */
	size_t		 total;
};

static void *
xmalloc(size_t len)
{
	void	*p;

	p = malloc(len);
	if (p == NULL) {
		log_error("out of memory (%zu bytes)", len);
		abort();
	}
	return p;
}

static struct chunk *
chunk_new(size_t cap, struct chunk *next)
{
	struct chunk	*c;

	c = xmalloc(sizeof(*c) + cap);
	c->next = next;
	c->cap = cap;
	c->used = 0;
	return c;
}

struct arena *
arena_new(void)
{
	struct arena	*a;

	a = xmalloc(sizeof(*a));
	a->head = chunk_new(ARENA_CHUNK_BYTES, NULL);
	a->big = NULL;
	a->cleanups = NULL;
	a->total = 0;
	return a;
}

static void
run_cleanups(struct arena *a)
{
	struct deferred	*d;

	/* Cleanups may allocate nothing from the arena: their records live in it. */
	while ((d = a->cleanups) != NULL) {
		a->cleanups = d->next;
		d->fn(d->ptr);
	}
}

void
arena_reset(struct arena *a)
{
	struct chunk	*c;

	run_cleanups(a);
	while (a->head->next != NULL) {
		c = a->head;
		a->head = c->next;
		free(c);
	}
	while ((c = a->big) != NULL) {
		a->big = c->next;
		free(c);
	}
	a->head->used = 0;
	a->total = 0;
}

void
arena_free(struct arena *a)
{
	if (a == NULL)
		return;
	arena_reset(a);
	free(a->head);
	free(a);
}

void *
arena_alloc(struct arena *a, size_t len)
{
	struct chunk	*c;
	size_t		 off;
	void		*p;

	if (len == 0)
		len = 1;
	if (len > SIZE_MAX / 2) {
		log_error("arena: absurd allocation of %zu bytes", len);
		abort();
	}
	c = a->head;
	off = (c->used + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (off > c->cap || c->cap - off < len) {
		/* A big block gets a chunk of its own, so that the current chunk's
		 * free space stays usable. */
		if (len > ARENA_CHUNK_BYTES / 4) {
			c = chunk_new(len, a->big);
			a->big = c;
			c->used = len;
			a->total += len;
			memset(c->data, 0, len);
			return c->data;
		}
		c = chunk_new(ARENA_CHUNK_BYTES, a->head);
		a->head = c;
		off = 0;
	}
	p = c->data + off;
	c->used = off + len;
	a->total += len;
	memset(p, 0, len);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char	*p;

	p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;
	char	*p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		log_error("arena_vprintf: bad format");
		abort();
	}
	p = arena_alloc(a, (size_t)n + 1);
	(void)vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void
arena_defer(struct arena *a, arena_cleanup_fn *fn, void *ptr)
{
	struct deferred	*d;

	d = arena_alloc(a, sizeof(*d));
	d->fn = fn;
	d->ptr = ptr;
	d->next = a->cleanups;
	a->cleanups = d;
}

size_t
arena_used(const struct arena *a)
{
	return a->total;
}
