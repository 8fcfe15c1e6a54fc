/*
 * uvh5_wpriv.h: the UVH5 writer's state, shared by the writer
 * (uvh5_write.c) and its direct chunk path (uvh5_encode.c). Private to
 * those two files.
 */
#ifndef UVM_UVH5_WPRIV_H
#define UVM_UVH5_WPRIV_H

#include <hdf5.h>
#include <stdint.h>

#include "core/fsx.h"

struct uvh5_writer {
	struct fsx_out o;
	int reserved;
	hid_t fid;
	hid_t vis, flg, nsm;
	hid_t fs_vis, fs_flg, fs_nsm;
	hid_t vis_mt, bool_t, mspace;
	hsize_t mspace_n;
	int64_t Nblts, Nfreqs, Npols, next_row;
	int64_t crows;      /* rows a chunk (the last chunk may hold fewer) */
	int lzf;            /* flags and nsamples carry the LZF filter */
	int ndim;           /* 3, or 4 for the DSA-110 layout (spw axis of 1) */
	uint8_t *scratch;
	size_t scratch_n;
};

#endif
