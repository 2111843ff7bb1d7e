/* SPDX-License-Identifier: MIT */
/*
 * Log lines are formatted into a stack buffer and written with one write(2), so that
 * lines of concurrent threads never interleave.
 */
#include "config.h"
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;

int
log_open(const char *path)
{
	int	fd;

	if (path == NULL || path[0] == '\0') {
		log_fd = STDERR_FILENO;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	char		 buf[2048];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 len;
	int		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(buf + len, sizeof(buf) - len, ".%03ldZ %s ", ts.tv_nsec / 1000000L, level);
	if (n > 0)
		len += (size_t)n;
	n = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	(void)!write(log_fd, buf, len);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line("info", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line("warn", fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}
