/*
 * quar.h: the one quarantine mover. Every bad input (rejected by the
 * planner before any job, or by a job with EX_DATAERR) leaves the pipeline
 * the same way: into the quarantine directory under a name never reused,
 * next to <name>.reason, nothing overwritten, nothing deleted.
 *
 * Order: the reason file is written FIRST, then the input is moved. A
 * crash between the two steps then leaves the input where it was (it is
 * met again and quarantined again, under the next free name) and at worst
 * a stray .reason without its file. The other order would leave an input
 * in quarantine/ whose reason (when, which job, the error) is gone for
 * good, which the audit reports as "no reason file" and nobody can answer.
 * The reason file is linked into place with link(2), which fails on an
 * existing name, so two processes can never claim the same name.
 */
#ifndef UVM_QUAR_H
#define UVM_QUAR_H

#include <limits.h>
#include <stddef.h>

/*
 * rename(2) src to dst without ever replacing dst: renameat2
 * RENAME_NOREPLACE, else link+unlink, else (another file system) a copy
 * beside dst with fsync, linked into place, mode and times kept, then the
 * unlink of src (a regular file only: anything else stays, EXDEV). Both
 * directories are fsync'ed. 0, or -1 with errno (EEXIST when dst exists;
 * src is then untouched).
 */
int quar_move_noreplace(const char *src, const char *dst);

/*
 * Quarantine the regular file src into directory qdir (created if needed)
 * as `base`, or `base.1` .. `base.999` when taken (a name whose .reason
 * exists counts as taken; `x.reason` itself is never used unsuffixed, as
 * it would pass for another file's reason). The reason file holds
 *   <head>input: <shown>\nquarantined-as: <qrel>/<name>\n
 * where head is the caller's lines ("" or newline-terminated), shown the
 * input as the operator knows it, qrel the directory as shown ("quarantine").
 * On success 0 with the chosen name in qname. On failure -1 with errno,
 * src untouched and no reason file left; a failed reason write is logged
 * here ("cannot write ..."), other failures are for the caller to log.
 */
int quar_move(const char *src, const char *qdir, const char *base, const char *head,
    const char *shown, const char *qrel, char qname[NAME_MAX + 1]);

#endif
