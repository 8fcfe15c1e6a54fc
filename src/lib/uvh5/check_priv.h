/*
 * check_priv.h: what the files of the UVH5 validator share (not part of
 * the library's interface; see check.h). chk_header (check_header.c) runs
 * the antenna and uvw checks of check_ants.c through chk_antennas_uvw.
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

#endif
