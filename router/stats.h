/*
 * The router's counters, and telling the controller what real traffic saw
 * of each backend (stats.c).
 */
#ifndef DNSROUTER_STATS_H
#define DNSROUTER_STATS_H

#include <stdint.h>

struct live_table;
struct router;

/* The global counters (enum report_global), for struct router's count. */
uint32_t *stats_counters(void);
void stats_init(const struct router *r);
/* t is going away (its last query ended): report what it still holds. */
void stats_table_done(struct live_table *t);
void stats_shutdown(void);

#endif
