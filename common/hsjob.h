/*
 * Compiling a Hyperscan database in a thread of its own while the caller's
 * event loop keeps running; the result comes back to the loop through an
 * ev_async. One job at a time per struct hsjob. The controller compiles
 * each table's patterns this way (controller/dbcompile.c); a router only
 * when the controller's database does not fit it (router/compile.c).
 */
#ifndef DNSROUTER_HSJOB_H
#define DNSROUTER_HSJOB_H

#include <ev.h>
#include <stddef.h>

struct hsdb;
struct hsjob;

/*
 * done(db, seconds, arg) is called on loop when a job ends (seconds of
 * wall clock): db is NULL if the compile failed, else the caller's to
 * unref.
 */
struct hsjob *hsjob_new(struct ev_loop *loop,
    void (*done)(struct hsdb *db, double seconds, void *arg), void *arg);

/* Start compiling a copy of patterns[0..n); -1 if a job is running. */
int hsjob_start(struct hsjob *j, const char *const *patterns, size_t n);

/* Nonzero while a job runs. */
int hsjob_busy(const struct hsjob *j);

/* CPU seconds the last job that ended took (its thread runs at nice 10). */
double hsjob_cpu(const struct hsjob *j);

/*
 * Free j; a running job is left to end with the process (a compile cannot
 * be interrupted): call this only on the way out.
 */
void hsjob_free(struct hsjob *j);

#endif
