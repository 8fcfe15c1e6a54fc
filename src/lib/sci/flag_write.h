/*
 * flag_write.h: uvm-flag's write phase (flag_run.c's last step), on its
 * own so the pipelining between reading, compressing and writing stays
 * out of the flagging.
 */
#ifndef UVM_FLAG_WRITE_H
#define UVM_FLAG_WRITE_H

#include <stdint.h>

#include "uvh5/uvh5.h"

/*
 * Write every row of w (created for f's shape, no rows written yet): f's
 * visibilities and nsamples, unchanged, with flags (Nblts x Nfreqs x
 * Npols bytes, 0/1, the group's final mask), by uvh5_copy_encoded:
 * nthreads workers (<= 0: online CPUs) encode whole chunks while the
 * calling thread reads f and writes the finished chunks in order, so the
 * file is the same bytes for any number of workers and the same as
 * writing the rows with uvh5_write_rows. 0, or -1 with *status and err
 * (UVH5_ERRLEN) from the first failed read, write or encoding (EX_OSERR
 * out of memory, EX_SOFTWARE for a thread that cannot start); w is left
 * to the caller to commit or abort.
 */
int flag_write(uvh5_file *f, uvh5_writer *w, const uint8_t *flags, int nthreads, int *status,
    char *err);

#endif
