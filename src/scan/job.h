/*
 * The scan jobs: "scan" (one image: read its layers into an inventory,
 * keep it, match it) and "rescan" (match every kept inventory of the
 * repositories scanned continuously again, after the vulnerability data
 * changed). image/scanning.h queues them; this registers their handlers.
 */
#ifndef BERTH_SCAN_JOB_H
#define BERTH_SCAN_JOB_H

/* Registers the handlers with the job queue (before jobs_start()). */
int scan_jobs_register(void);

#endif
