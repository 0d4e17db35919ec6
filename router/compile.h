/* A router's own Hyperscan database, built in a thread (compile.c). */
#ifndef DNSROUTER_COMPILE_H
#define DNSROUTER_COMPILE_H

struct hsdb;
struct router;
struct rt_table;

void compile_init(const struct router *r, void (*done)(struct hsdb *db));
/* Build a database of rt's patterns unless one is being built. */
void compile_start(const struct rt_table *rt);
void compile_shutdown(void);

#endif
