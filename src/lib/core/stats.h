/*
 * stats.h: order statistics shared by the science code (robust medians and
 * MADs in flagging and imaging), in one place.
 */
#ifndef UVM_STATS_H
#define UVM_STATS_H

#include <stddef.h>

/*
 * The k-th smallest (0-based, k < n, n > 0) of x[0..n): Hoare's selection,
 * expected O(n), no allocation. Reorders x; values must not be NaN.
 */
float stats_kth(float *x, size_t n, size_t k);
/* The same for doubles. */
double stats_kth_d(double *x, size_t n, size_t k);

#endif
