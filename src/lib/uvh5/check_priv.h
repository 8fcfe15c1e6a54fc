/*
 * check_priv.h: what the files of the UVH5 validator share (not part of
 * the library's interface; see check.h). chk_header (check_header.c) runs
 * the antenna and uvw checks of check_ants.c through chk_antennas_uvw;
 * chk_file (check.c) runs the passes of check_pass.c.
 */
#ifndef UVM_CHECK_PRIV_H
#define UVM_CHECK_PRIV_H

#include "uvh5/check.h"

/* qsort comparison of two int64_t. */
int chk_cmp_i64(const void *a, const void *b);

/*
 * Antennas (numbers, duplicates, ant_1/ant_2 in antenna_numbers,
 * Nants_data, Nbls) and uvw (finite, autos zero, agreement with the
 * antenna positions) into r. -1 if out of memory, else 0.
 */
int chk_antennas_uvw(const struct uvh5_header *h, struct chk_report *r);

/* Remove the file name from a reader message (our line already names the
 * file): a leading "cannot read 'path': " and " in 'path'". */
void chk_strip_path(char *msg, const char *path);

/* Add the tallies of block b (checked by chk_data_rows from a copy of d's
 * begun state) to d; blocks must be added in file order. */
void chk_data_merge(struct chk_data *d, const struct chk_data *b);

/*
 * Run chk_header(h, r) and the data checks of every row of f into d, by
 * blocks of block rows, on two threads (check_pass.c). 0, or -1 when out
 * of memory (r->status EX_OSERR; d incomplete). A read error is recorded
 * in r with the rows before it counted in d, and 0 returned.
 */
int chk_pass(uvh5_file *f, const struct uvh5_header *h, int64_t block, struct chk_data *d,
    struct chk_report *r, const char *path);

#endif
