/*
 * Shared between the files of events/ (emitting in events.c, delivery in
 * deliver.c, the admin commands in admin.c), not part of events.h.
 */
#ifndef BERTH_EVENTS_INTERNAL_H
#define BERTH_EVENTS_INTERNAL_H

#include "store/jobs.h"

/* The job that delivers one stream's pending deliveries to one webhook;
 * its key is events_job_key()'s "<webhook id> <stream>". */
#define EVENTS_JOB "webhook"
/* A new event's job runs this long after it, so that the events of a burst
 * (a push of many tags, a lifecycle run) go out in one run of the job:
 * fewer writes that compete with requests for the database. */
#define EVENTS_COALESCE_MS 100
/* The periodic job that prunes finished deliveries and old events. */
#define EVENTS_PRUNE_JOB "webhook-prune"

void events_job_key(char out[JOBS_KEY_MAX], const char *webhook_id, const char *stream);

#endif
