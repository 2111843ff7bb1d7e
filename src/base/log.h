/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per call, with a UTC timestamp and level, to stderr or the file
 * given by log_open(). Safe from any thread. Never log tokens, passwords or
 * Authorization headers.
 */
#ifndef CHAT_BASE_LOG_H
#define CHAT_BASE_LOG_H

/* Sends log lines to path (appended), or to stderr when path is NULL. 0 or -1. */
int	log_open(const char *path);
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
