/* SPDX-License-Identifier: MIT */
/*
 * Per-request allocation arena.
 *
 * Every request owns one arena: everything it allocates comes from here and is
 * released at once by arena_reset(), which also runs the cleanups registered with
 * arena_defer() (last registered first). Memory is never freed piece by piece.
 * Out of memory aborts the process (inputs are bounded, see STYLE.md §4).
 */
#ifndef CHAT_BASE_ARENA_H
#define CHAT_BASE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

typedef void arena_cleanup_fn(void *);

/* Creates an empty arena. Never returns NULL. */
struct arena	*arena_new(void);
/* Runs the deferred cleanups, then frees the arena. arena_free(NULL) is a no-op. */
void		 arena_free(struct arena *);
/* Runs the deferred cleanups and forgets every allocation; keeps the first chunk. */
void		 arena_reset(struct arena *);

/* Allocates len zeroed bytes, aligned for any type. */
void		*arena_alloc(struct arena *, size_t len);
/* Copies len bytes of s and appends a NUL. */
char		*arena_strndup(struct arena *, const char *s, size_t len);
char		*arena_strdup(struct arena *, const char *s);
/* Formats like snprintf into arena memory. */
char		*arena_printf(struct arena *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
char		*arena_vprintf(struct arena *, const char *fmt, va_list);
/* Registers fn(ptr) to run at the next arena_reset or arena_free. */
void		 arena_defer(struct arena *, arena_cleanup_fn *fn, void *ptr);
/* Bytes handed out since the last reset (for tests and limits). */
size_t		 arena_used(const struct arena *);

#endif
