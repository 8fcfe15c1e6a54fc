/*
 * uvh5.h: read and write UVH5 visibility files with libhdf5.
 *
 * The reader accepts UVH5 0.x (4-D data, 2-D freq_array, scalar
 * channel_width), 0.1, 1.0 and 1.1+ (3-D data, phase_center_catalog as a
 * group or as JSON strings); visdata as an {r,i} compound of float32,
 * float64 or int32; flags as an int8 bool enum; flags/nsamples compressed
 * with the LZF filter (id 32000, registered through liblzf); integer header
 * datasets of any width and byte order; fixed or variable-length strings;
 * optional values stored as null-dataspace datasets (treated as absent);
 * and the DSA-110 correlator's files (shared/data/dsa110/LAYOUT.md): no
 * version, drift without a phase-centre catalog, the pointing in
 * extra_keywords/phase_center_dec (radians) and, since June 2022, a
 * scalar Header/phase_center_app_dec (see app_dec_scalar, uvh5_pointing).
 *
 * uvh5_open reads the whole header (all per-blt metadata arrays, which are
 * small) and none of the data. Data are read by blocks of rows (baseline-
 * times) with uvh5_read_rows into caller buffers allocated once, so memory is
 * bounded by the block size whatever the file size: read one integration
 * (Nbls rows) at a time.
 *
 * The writer produces UVH5 1.2 (3-D data, 1-D freq arrays, a
 * phase_center_catalog group), visdata complex64, flags LZF-compressed bool
 * enum, nsamples float32 LZF-compressed, chunked by rows; or, with
 * h->layout = UVH5_LAYOUT_DSA110, the DSA-110 correlator's layout
 * (shared/data/dsa110/LAYOUT.md): no version, phase_type "drift", no
 * phase-centre catalog or ids, 4-D data, freq_array (1, Nfreqs), a scalar
 * absolute channel_width, float32 uvw, antenna names at least 4 bytes,
 * uncompressed flags/nsamples, numeric extra keywords stored as float64,
 * and phase_center_app_dec as a scalar when app_dec_scalar is set. It writes to a
 * temporary via fsx (fsx.h) and renames on uvh5_writer_commit, so a partial
 * file never appears under the final name. Writing then reading gives back
 * the same bits.
 *
 * The same header and data always give the same bytes (no HDF5 time
 * stamps; LZF built with a cleared hash table).
 *
 * Errors: functions return NULL/-1 and fill err (one line, no program name)
 * and *status with the exit status to use: EX_NOINPUT (missing file),
 * EX_IOERR (permission, a directory or other unreadable path, a system
 * read/write error, disk full), EX_DATAERR (not HDF5, truncated, corrupt,
 * missing or inconsistent required datasets), EX_CANTCREAT (cannot create
 * output), EX_SOFTWARE (caller error: rows out of range or out of order,
 * incomplete header). libhdf5's own error printing is turned off.
 */
#ifndef UVM_UVH5_H
#define UVM_UVH5_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define UVH5_ERRLEN 512

enum uvh5_vistype { UVH5_CF32, UVH5_CF64, UVH5_CI32 };
enum uvh5_layout { UVH5_LAYOUT_1_2 = 0, UVH5_LAYOUT_DSA110 = 1 };

/* Phase centre (one entry of phase_center_catalog, or the 0.x phase_type). */
struct uvh5_phase_center {
	int id;                 /* catalog key */
	char name[128];         /* cat_name / object_name */
	char type[32];          /* "sidereal", "unprojected", "driftscan", "near_field", ... */
	double lon, lat;        /* cat_lon / cat_lat, radians (RA/Dec for sidereal) */
	double epoch;           /* cat_epoch, or 0 */
	char frame[32];         /* cat_frame, e.g. "icrs", "fk5", or "" */
};

/* One extra keyword (Header/extra_keywords/NAME), value rendered as text. */
struct uvh5_keyword {
	char name[64];
	char value[256];
};

struct uvh5_header {
	int version_major, version_minor; /* 0,0 when Header/version is absent */
	char version[16];                 /* as written, "" when absent */
	int data_ndim;                    /* 3 or 4 (0.x has a spw axis of 1) */
	enum uvh5_vistype vistype;

	int64_t Nants_data, Nants_telescope, Nbls, Nblts, Nfreqs, Npols;
	int64_t Ntimes, Nspws, Nphase;    /* Nphase: 1 if absent */
	int flex_spw;                     /* 0/1 (absent: 0) */

	char telescope_name[64];
	char instrument[64];
	char object_name[128];            /* may be "" */
	char x_orientation[16];           /* may be "" */
	char phase_type[32];              /* 0.x/1.0: "drift"/"phased"; "" otherwise */
	char vis_units[32];               /* "uncalib", "Jy", "K str"; "" = "uncalib" */
	double latitude, longitude, altitude; /* degrees, degrees, metres */

	/* Antennas (Nants_telescope). Positions are ECEF relative to the
	 * telescope location, metres, [i*3 + k]. diameters NULL if absent. */
	int64_t *antenna_numbers;
	char (*antenna_names)[32];
	double *antenna_positions;
	double *antenna_diameters;

	/* Per baseline-time (Nblts). lst_array and integration_time may be NULL
	 * only if absent from the file; uvw is [i*3 + k] metres. */
	int64_t *ant_1_array, *ant_2_array;
	double *uvw_array;
	double *time_array;               /* JD, integration centre */
	double *lst_array;                /* radians or NULL */
	double *integration_time;         /* seconds or NULL */
	int64_t *phase_center_id_array;   /* NULL if absent */
	/* Apparent RA/Dec and frame position angle of the phase centre per
	 * blt, radians; NULL if absent (uvh5_header_alloc leaves them NULL;
	 * the writer writes them only when set). */
	double *phase_center_app_ra, *phase_center_app_dec, *phase_center_frame_pa;
	/* Header/phase_center_app_dec was one scalar (the DSA-110 writer since
	 * June 2022): the reader repeats it into phase_center_app_dec[Nblts];
	 * the DSA-110 layout writer writes phase_center_app_dec[0] as a scalar. */
	int app_dec_scalar;
	/* Layout uvh5_create writes: UVH5_LAYOUT_1_2 (default) or
	 * UVH5_LAYOUT_DSA110 (the correlator's, see uvh5_create). The reader
	 * leaves it 0, so a header read and written again becomes UVH5 1.2. */
	int layout;

	/* Spectral (Nfreqs); channel_width expanded from a scalar if needed. */
	double *freq_array;               /* Hz */
	double *channel_width;            /* Hz */
	int64_t *spw_array;               /* Nspws */
	int64_t *flex_spw_id_array;       /* Nfreqs or NULL */
	int64_t *polarization_array;      /* Npols, AIPS memo 117 codes */

	char *history;                    /* malloc'd, never NULL ("" if absent) */

	int n_phase_centers;
	struct uvh5_phase_center *phase_centers;
	int n_keywords;
	struct uvh5_keyword *keywords;
};

/*
 * Where the data are phased, from whatever the file holds (first match):
 *  - a sidereal catalog entry or phase_type "phased": UVH5_PT_FIXED at
 *    (ra, dec) = the entry's cat_lon/cat_lat;
 *  - extra_keywords/phase_center_dec (radians; the DSA-110 writer), else
 *    a scalar Header/phase_center_app_dec (the writer since June 2022),
 *    else extra_keywords/phase_dec_deg (degrees; older uvm-sim files),
 *    else per-row phase_center_app_dec in a file marked meridian-phased:
 *    UVH5_PT_MERIDIAN, hour angle 0 at dec, apparent frame of date;
 *  - a drift file that says it is meridian-phased (extra_keywords
 *    ha_phase_center, phase_center_epoch or phasing=meridian) without any
 *    of the above: -1, the pointing cannot be determined (why says so);
 *  - otherwise (unprojected/drift, no hint): UVH5_PT_ZENITH, dec = the
 *    latitude (pyuvdata's meaning of an unprojected file).
 * Returns the kind, or -1 with why filled (one line).
 */
enum uvh5_pointing_kind { UVH5_PT_ZENITH, UVH5_PT_MERIDIAN, UVH5_PT_FIXED };
int uvh5_pointing(const struct uvh5_header *h, double *ra, double *dec, char *why, size_t n);

/* Deep-copy / free a header (uvh5_header_free of a zeroed header is safe). */
int uvh5_header_copy(struct uvh5_header *dst, const struct uvh5_header *src);
void uvh5_header_free(struct uvh5_header *h);
/*
 * Allocate all arrays of h for its N* counts (zeroed); 0 or -1 (ENOMEM).
 * Optional per-blt arrays (lst_array, integration_time,
 * phase_center_id_array) and flex_spw_id_array, antenna_diameters are
 * allocated too; phase_center_app_* are not. phase_centers gets Nphase
 * zeroed entries (n_phase_centers = Nphase) and history "".
 */
int uvh5_header_alloc(struct uvh5_header *h);
/* Append line to the history, on a line of its own; 0, or -1 with the
 * history unchanged (no memory). */
int uvh5_header_add_history(struct uvh5_header *h, const char *line);
/* Set or add an extra keyword; 0 or -1. */
int uvh5_header_set_keyword(struct uvh5_header *h, const char *name, const char *value);
const char *uvh5_header_keyword(const struct uvh5_header *h, const char *name);

typedef struct uvh5_file uvh5_file;

/* Open path read-only and read its header. */
uvh5_file *uvh5_open(const char *path, int *status, char *err);
/*
 * Open path read-only for uvh5_read_rows only, without reading its header:
 * for a caller that has validated the file's header with uvh5_open already
 * and streams many files at once (the per-row header arrays of a full
 * DSA-110 file are ~12 MB). The /Data datasets must have the shape of
 * expect's Nblts, Nfreqs and Npols; uvh5_header(f) then holds only those
 * counts, data_ndim and vistype. NULL on failure, as uvh5_open.
 */
uvh5_file *uvh5_open_data(const char *path, const struct uvh5_header *expect, int *status,
    char *err);
const struct uvh5_header *uvh5_header(const uvh5_file *f);
/*
 * Read rows [row0, row0+nrows) of /Data into caller buffers, each
 * nrows*Nfreqs*Npols elements in (row, freq, pol) order; any buffer may be
 * NULL to skip that dataset. vis is converted to complex float from any
 * stored type; flags become 0/1 bytes; nsamples float. 0 or -1.
 * Blocks of any size and order work; reading whole integrations (Nbls
 * rows) in order is the fast path (about 1 GB/s from page cache).
 */
int uvh5_read_rows(uvh5_file *f, int64_t row0, int64_t nrows,
    float complex *vis, uint8_t *flags, float *nsamples, int *status, char *err);
void uvh5_close(uvh5_file *f);
/*
 * Whether uvh5_pread_rows can read f: its three /Data datasets stored
 * uncompressed, as complex64 {r,i}, h5py bool (or uint8) and float32,
 * contiguous or in chunks holding whole rows, and direct reading on.
 */
int uvh5_can_pread(const uvh5_file *f);
/*
 * uvh5_read_rows for such a file without libhdf5 (pread(2) on its
 * descriptor): several threads may call it at once, while no thread calls
 * libhdf5 on f. Same output and errors as uvh5_read_rows; EX_SOFTWARE if
 * !uvh5_can_pread(f) or the rows are out of range.
 */
int uvh5_pread_rows(const uvh5_file *f, int64_t row0, int64_t nrows,
    float complex *vis, uint8_t *flags, float *nsamples, int *status, char *err);
/*
 * on = 0 makes uvh5_read_rows leave every dataset to libhdf5's own chunk
 * path instead of decoding split chunks or reading rows by offset itself (for tests and benchmarks:
 * both paths must give the same bytes). Default on.
 */
void uvh5_set_direct(uvh5_file *f, int on);

/* Register the LZF filter with libhdf5 (idempotent; done by open/create). */
int uvh5_register_lzf(void);

typedef struct uvh5_writer uvh5_writer;

/*
 * Create path (through a temporary) and write header h, version 1.2.
 * chunk_rows: rows per HDF5 chunk (0 = Nbls); each chunk holds all
 * channels and pols, and the writer caches two chunks per dataset, so keep
 * chunk_rows*Nfreqs*Npols*8 bytes to a few MB. Data rows must then be
 * written in order with uvh5_write_rows until all Nblts are written.
 * Required in h: the N* counts, telescope_name, antenna_numbers/names/
 * positions, ant_1/ant_2, uvw, time, integration_time, freq_array,
 * channel_width, spw_array, polarization_array. Optional: lst_array,
 * antenna_diameters, flex_spw_id_array (default: spw_array[0]),
 * phase_center_id_array (default: the first centre's id), phase_centers
 * (default: one unprojected "zenith" entry), phase_center_app_*, keywords
 * (written as strings), instrument (default: telescope_name), vis_units
 * (default "uncalib"), x_orientation.
 */
uvh5_writer *uvh5_create(const char *path, const struct uvh5_header *h,
    int64_t chunk_rows, int *status, char *err);
int uvh5_write_rows(uvh5_writer *w, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples,
    int *status, char *err);
/*
 * Rows encoded for the writer's direct chunk path: one chunk of each
 * /Data dataset as it is stored (flags and nsamples LZF-compressed with the
 * filter's own fallback, stored as is when LZF cannot shrink the chunk or
 * any of 32 KiB at its start, middle and end; the last chunk padded with zeros to the full chunk
 * shape). Zero-initialise; buffers are kept for the next use until
 * uvh5_encoded_free. The caller's row buffers must stay unchanged until
 * the rows are written.
 */
struct uvh5_encoded {
	int64_t row0, nrows;
	int direct;                     /* 0: written by uvh5_write_rows */
	const float complex *vis;       /* the caller's rows */
	const uint8_t *flags;
	const float *nsamples;
	const void *chunk[3];           /* visdata, flags, nsamples as stored */
	size_t chunk_n[3];
	unsigned mask[3];               /* filter mask: 1 = stored uncompressed */
	void *buf[5];                   /* owned */
	size_t cap[5];
};
/* Rows per chunk of w (the rows uvh5_encode_rows takes at once). */
int64_t uvh5_writer_chunk_rows(const uvh5_writer *w);
/*
 * Encode rows [row0, row0+nrows) for uvh5_write_encoded. Reads only what
 * uvh5_create fixed in w and calls no libhdf5 function, so any number of
 * threads may encode at once while another writes. Rows that are not one
 * whole chunk (row0 a multiple of the chunk rows, nrows the chunk rows or
 * the rest of the file), and any rows of the DSA-110 layout, are kept as
 * given for uvh5_write_rows. 0, or -1
 * with EX_SOFTWARE (rows out of range) or EX_OSERR (memory).
 */
int uvh5_encode_rows(const uvh5_writer *w, int64_t row0, int64_t nrows,
    const float complex *vis, const uint8_t *flags, const float *nsamples,
    struct uvh5_encoded *e, int *status, char *err);
/*
 * Write encoded rows, which must be the next rows in order
 * (H5Dwrite_chunk); errors as uvh5_write_rows. The file holds the same
 * datasets, filters, chunks and values as with uvh5_write_rows.
 */
int uvh5_write_encoded(uvh5_writer *w, const struct uvh5_encoded *e, int *status, char *err);
void uvh5_encoded_free(struct uvh5_encoded *e);
/* Close, fsync and rename into place; 0 or -1 (temporary removed). */
int uvh5_writer_commit(uvh5_writer *w, int *status, char *err);
/* Close and remove the temporary. */
void uvh5_writer_abort(uvh5_writer *w);
/* The provenance JSON a uvmake writer recorded in path (its root attribute
 * uvm_provenance, core/prov.h), malloc'd; NULL when none or unreadable. */
char *uvh5_provenance(const char *path);

/* Polarization code to name ("xx", "yy", "pI", ...), "?" if unknown. */
const char *uvh5_pol_name(int64_t code);
/* "complex64", "complex128" or "int32". */
const char *uvh5_vistype_name(enum uvh5_vistype t);

#endif
