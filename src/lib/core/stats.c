/*
 * stats.c: order statistics (contract in stats.h). Selection instead of a
 * sort: the median and MAD of millions of samples per group (flagging,
 * the imager's robust rms) in linear time.
 */
#include "core/stats.h"

/* One selection for each element type (the contract in stats.h). */
#define KTH(name, T) \
T name(T *x, size_t n, size_t k) \
{ \
	size_t lo = 0, hi = n - 1; \
 \
	while (lo < hi) { \
		T pivot = x[lo + (hi - lo) / 2]; \
		size_t i = lo, j = hi; \
 \
		while (i <= j) { \
			while (x[i] < pivot) \
				i++; \
			while (x[j] > pivot) \
				j--; \
			if (i <= j) { \
				T t = x[i]; \
				x[i] = x[j]; \
				x[j] = t; \
				i++; \
				if (j == 0) \
					break; \
				j--; \
			} \
		} \
		if (k <= j) \
			hi = j; \
		else if (k >= i) \
			lo = i; \
		else \
			return x[k]; \
	} \
	return x[k]; \
}

KTH(stats_kth, float)
KTH(stats_kth_d, double)
