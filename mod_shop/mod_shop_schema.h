/*
 * Does each shop's database hold the schema this module was built for
 * (mod_shop_schema.c)?  The jobs process checks; requests read the verdict
 * from shared memory.  The check itself is a kind of job:
 * shop_schema_jobs, in mod_shop_jobs.h.
 */
#ifndef MOD_SHOP_SCHEMA_H
#define MOD_SHOP_SCHEMA_H

#include "mod_shop.h"
#include "shop_schema.h"

/* The last verdict (no database round trip). */
shop_schema_state shop_schema_now(const shop_site *site);
/* A request met an undefined table or function: check again now. */
void shop_schema_suspect(const shop_site *site);
/* Answers 503 SCHEMA_MISMATCH naming what differs. */
int shop_schema_refuse(request_rec *r, const shop_site *site);

#endif
