/* progress.h - a transfer's progress bar on stderr (bytes, percent, rate,
 * ETA), drawn only when stderr is a terminal, like scp and curl. */
#ifndef RPCC_PROGRESS_H
#define RPCC_PROGRESS_H

#include <stdint.h>

typedef struct rpcc_progress {
	int enabled;
	char label[48];
	uint64_t total; /* 0 with total_known 0: a stream of unknown length */
	int total_known;
	uint64_t first; /* bytes already there when we started (a resume) */
	uint64_t done;
	int64_t start_ns, drawn_ns;
} rpcc_progress;

/* Starts a bar for label (shown shortened to fit). quiet or a stderr that is
 * not a terminal leaves it off; every other call is then a no-op. done is
 * where a resumed transfer starts. */
void rpcc_progress_start(rpcc_progress *p, const char *label, uint64_t done, uint64_t total,
                         int total_known, int quiet);
/* Sets the bytes done; redraws at most ten times a second. */
void rpcc_progress_update(rpcc_progress *p, uint64_t done);
/* Draws the final state and ends the line. */
void rpcc_progress_end(rpcc_progress *p);

#endif /* RPCC_PROGRESS_H */
