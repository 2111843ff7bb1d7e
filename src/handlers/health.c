/* SPDX-License-Identifier: MIT */
/*
 * GET /healthz: asks PostgreSQL (SELECT 1) and Redis (PING), each with a short timeout.
 */
#include "config.h"
#include "handlers.h"

#include "bus/bus.h"
#include "json/json.h"
#include "store/store.h"

/* GET /healthz: 200 when both answer, 503 naming the failing part otherwise. */
enum err
handle_health_show(struct req *rq)
{
	json_object	*o;
	bool		 pg_ok;
	bool		 redis_ok;

	pg_ok = store_ping(&rq->ctx) == ERR_OK;
	redis_ok = bus_ping(&rq->ctx) == ERR_OK;
	o = json_object_new_object();
	jadd_str(o, "status", pg_ok && redis_ok ? "ok" : "unavailable");
	jadd_str(o, "postgres", pg_ok ? "ok" : "unavailable");
	jadd_str(o, "redis", redis_ok ? "ok" : "unavailable");
	if (!(pg_ok && redis_ok))
		rq->ctx.retry_after_s = 1;
	return reply_json(rq, pg_ok && redis_ok ? 200 : 503, o);
}
