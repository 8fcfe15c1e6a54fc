/*
 * uvh5_chunk.h: one /Data dataset as the reader holds it, and the
 * reader's own chunk path (uvh5_chunk.c) used by uvh5_data.c. Private to
 * the reader.
 */
#ifndef UVM_UVH5_CHUNK_H
#define UVM_UVH5_CHUNK_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

struct uvh5_dset {
	hid_t id, fspace, mtype;
	int ndim;
	hsize_t dims[4];
	int normalise;          /* integer flags: map nonzero to 1 */
	/* Direct chunk path (uvh5_chunk_read): */
	int direct;             /* chunks are copied out by us */
	int lzf;                /* chunks are LZF-compressed */
	size_t esize;           /* bytes an element, stored = memory */
	hsize_t cdims[4];       /* chunk shape */
	size_t cbytes;          /* bytes of one whole chunk */
	size_t nband;           /* chunks in one row band */
	int64_t band;           /* row band held in bandbuf, -1 none */
	unsigned char *bandbuf; /* nband decoded chunks */
	unsigned char *raw;     /* one stored chunk */
	size_t rawcap;
	/* File-offset path (uvh5_raw.c): */
	int byoffset;           /* rows are read with pread(2) */
	int rawfd;              /* libhdf5's descriptor of the file */
	size_t rowbytes;        /* bytes of one row, stored = memory */
	int64_t rawrows;        /* rows a chunk (all rows: contiguous) */
	int64_t nraw;           /* chunks */
	uint64_t *rawaddr;      /* file offset of each chunk */
};

/*
 * Decide whether ds takes the chunk path (ds->direct): chunked, chunks not
 * spanning the full frequency/polarization extent, stored type equal to the
 * memory type, no filter but LZF, and a row band of at most 256 MB.
 */
void uvh5_chunk_setup(struct uvh5_dset *ds);
/*
 * Copy rows [row0,row0+nrows) of ds to out (rows, F, P) from its decoded
 * row bands, loading each band once (the last one is kept for the next
 * call). 0, or -1 with the error (path and /Data/name in it) reported.
 */
int uvh5_chunk_read(struct uvh5_dset *ds, const char *path, const char *name, int64_t row0,
    int64_t nrows, void *out, int *status, char *err);

/*
 * Whether rows of file fid can be read by file offset (sec2 driver, no
 * user block): 1 with libhdf5's descriptor in *fd and the file's size in
 * *size, else 0.
 */
int uvh5_raw_file(hid_t fid, int *fd, uint64_t *size);
/*
 * Decide whether ds takes the file-offset path (ds->byoffset): stored type
 * equal to the memory type, no filter, contiguous or chunked by whole rows,
 * every chunk written, of its full size and inside the fsize bytes of fd.
 */
void uvh5_raw_setup(struct uvh5_dset *ds, int fd, uint64_t fsize);
/*
 * Read rows [row0,row0+nrows) of ds (ds->byoffset set) into out with pread(2):
 * safe in several threads at once. 0, or -1 with the error (EX_IOERR
 * for a failing read, EX_DATAERR for a file shorter than its chunks).
 */
int uvh5_raw_read(const struct uvh5_dset *ds, const char *path, const char *name, int64_t row0,
    int64_t nrows, void *out, int *status, char *err);

#endif
