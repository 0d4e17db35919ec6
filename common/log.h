/* Logging in the style of OpenBSD's log.c: messages start with the function name. */
#ifndef DNSROUTER_LOG_H
#define DNSROUTER_LOG_H

#include <stdarg.h>

/* Start logging: to stderr when foreground, else to syslog under ident. */
void log_init(int foreground, int verbose, const char *ident);
/* Change the verbosity (number of -v given). */
void log_setverbose(int verbose);
/* log-format json: one JSON object a line (1) or text (0, the default). */
void log_setjson(int on);
/* Current verbosity. */
int log_getverbose(void);

/* Warning with strerror(errno) appended. */
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Informational message. */
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Debug message, shown with -v. */
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Log with strerror(errno) and exit 1. */
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Log and exit 1. */
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
