/*
 * sources.h: source finding on a restored image with SEP (the C core of
 * Source Extractor, Debian libsep-dev): background and rms maps
 * (sep_background, tiles of SOURCES_MESH_BEAMS restoring beams, median-
 * filtered over 3 x 3 tiles: small enough that the artefacts around a
 * bright source raise the local rms there, as PyBDSF's and Aegean's rms
 * boxes do), detection above a threshold in units of the local rms
 * (sep_extract, no filter: the restored image is already
 * smooth on the beam scale), and per source its ICRS position (barycentre,
 * through the image's WCS, wcslib), peak flux (sub-pixel fit of the peak,
 * img_peak_fit) and integrated flux (sum in the ellipse of 3 x the
 * object's shape, divided by the beam area and by the 98.9% of a Gaussian
 * inside it) with errors from the rms map,
 * its shape (a, b, theta), the local background and rms at its peak, and
 * the primary beam there when the image before primary-beam correction is
 * given.
 */
#ifndef UVM_SOURCES_H
#define UVM_SOURCES_H

#include <stddef.h>

#define SOURCES_ERRLEN 512
#define SOURCES_MESH_BEAMS 8           /* background tile side, in BMAJ */

struct src_entry {
	double ra_deg, dec_deg, x, y;  /* ICRS; FITS pixels (1-based) */
	double peak_jy, peak_err_jy;   /* Jy/beam */
	double int_jy, int_err_jy;     /* Jy */
	double a_arcsec, b_arcsec, pa_deg; /* shape: semi-axes (1 sigma), PA from N through E */
	double snr;                    /* peak / local rms */
	double rms_jy, bkg_jy;         /* local rms and background at the peak */
	double pb;                     /* primary beam at the peak, NaN if unknown */
	int flag;                      /* SEP's extraction flags */
	int nneg;                      /* negative detections as strong within the radius */
	int npos;                      /* entries as strong within it, this one included */
	int reliable;                  /* nneg <= max_false x npos */
};

/*
 * Reliability from the negative image. An interferometric image's
 * artefacts (CLEAN's and calibration's errors carried by the PSF's
 * sidelobes) are as often negative as positive, its sources only
 * positive: the detections of the negated image, found exactly as the
 * catalogue's, count the false ones the catalogue holds at each SNR
 * (the inverted-image test of radio survey catalogues). An entry is
 * reliable when, within radius_beams BMAJ of it, the negative detections
 * at least as strong number at most max_false times the entries at least
 * as strong (itself included): where a bright source's artefacts reach
 * 14 sigma, a 10 sigma entry beside them is marked, a 10 sigma entry
 * in a clean part of the field is not.
 */
struct src_rel {
	double radius_beams;           /* > 0 */
	double max_false;              /* 0 to 1 */
};

struct src_catalog {
	int n;
	struct src_entry *s;
	double rms_jy;                 /* SEP's global rms */
	int mesh;                      /* background tile side, pixels */
	double bmaj_arcsec, bmin_arcsec, bpa_deg;
	double freq_hz;
	long nx, ny;
	int nneg, nunreliable;         /* negative detections; entries not reliable */
	struct src_rel rel;            /* as used (radius 0: no reliability pass) */
};

/* A reference catalogue entry: intrinsic flux at ref_hz, spectral index. */
struct src_ref {
	char name[64];
	double ra_deg, dec_deg, flux_jy, ref_hz, alpha;
};

/*
 * Read a reference catalogue: CSV lines name,ra_deg,dec_deg,flux_jy,
 * ref_freq_mhz,spectral_index ('#' lines skipped; the simulator's -P
 * format, ops/calibrators.csv's). 0, or -1 with err and *status (66, 65).
 */
int sources_read_ref(const char *path, struct src_ref **r, int *n, int *status, char *err);

/*
 * The catalogue against a reference (issue 17's flux-scale and astrometry
 * check): reference sources inside the image (finite pixel, 5 pixels from
 * the edge) whose flux at the image frequency is above thresh x the local
 * rms are "detectable"; each is matched to the nearest reliable catalogue
 * entry within one beam (BMAJ). Flux ratio: median of integrated / reference
 * flux over the matches, scatter 1.4826 x MAD; offsets: median distance
 * and median RA/Dec offsets; spurious: reliable catalogue entries with
 * no reference source within a beam, as a fraction of the reliable ones.
 * The gate: ratio in [min_ratio, max_ratio] and median offset below
 * max_offset_beam beams.
 */
struct src_xmatch {
	double min_ratio, max_ratio, max_offset_beam;     /* gate (inputs) */
	int nref_in, ndet, nmatch, nspur;
	double completeness, spurious_frac;
	double flux_ratio, flux_scatter;
	double offset_arcsec, offset_beam, dra_arcsec, ddec_arcsec;
	int pass;
};

/*
 * Find the sources of the FITS image at path above thresh sigma (rms map),
 * minimum area minarea pixels; with ref (nref entries), cross-match into
 * *xm too (its gate fields set by the caller). flat, if not NULL, is the
 * same image before primary-beam correction (uvm-image's output beside
 * its -p one; same size): each source's pb is flat / image at its peak
 * pixel. rel, if not NULL, marks each entry reliable or not (struct
 * src_rel); without it every entry is reliable. A wholly blank (NaN)
 * image, the mosaic of an hour where no image passed QA, gives an empty
 * catalogue. 0, or -1 with err and *status (66 missing, 65 not a usable
 * image or flat not of the same size, 70 SEP failure).
 */
int sources_find(const char *path, const char *flat, double thresh, int minarea,
    const struct src_rel *rel, const struct src_ref *ref, int nref, struct src_xmatch *xm,
    struct src_catalog *c, int *status, char *err);
void sources_free(struct src_catalog *c);
/* The catalogue as JSON (malloc'd, NUL-terminated), image path named,
 * with the cross-match if xm is not NULL. */
char *sources_json(const struct src_catalog *c, const char *image, const struct src_xmatch *xm);

#endif
