/*
 * sim.h: a DSA-110-like observation simulator (the library behind uvm-sim).
 *
 * It models a drift-scan array of Nants 4.65 m dishes on a fixed T-shaped
 * layout near OVRO, pointing at the meridian at one declination, watching a
 * sky of point sources (random ones in the primary beam, explicit ones from
 * a CSV list, and an optional bright calibrator whose transit falls at the
 * mid-time of a chosen group), through per-antenna complex gains (amplitude,
 * bandpass, phase, delay, slow phase drift) and thermal noise, following the
 * conventions of real DSA-110 files:
 *
 *     V_12 = conj(g_1) g_2 (sum_s S_s(f) A(theta_s, f)
 *                           exp(+2 pi i (u l + v m + w (n - 1))) + noise)
 *
 * with uvw = pos(ant_2) - pos(ant_1) in the frame of (HA = 0, Dec = pointing)
 * and A the power beam (-B: the tapered dish of sim_beam.c by default, Airy or Gaussian).
 *
 * The sign, from the sources: pyuvdata defines the baseline as
 * pos(ant_2) - pos(ant_1) and its phase() multiplies the data by
 * exp(-2 pi i (w_new - w_old) / lambda); for the rephased data to depend
 * on the sky only through s - s0, the data must go as
 * exp(+2 pi i b.(s - s0) / lambda). The DSA-110 writer (dsamfs) agrees: its
 * correlator forms A*B with uvw B - A, and fringe-stopping divides the raw
 * data by exp(+2 pi i f w / c). So a real file holds the complex conjugate
 * of the textbook V = g_1 conj(g_2) sum S exp(-2 pi i b.s / lambda) with the
 * same uvw. The model below computes that textbook form (the calibration
 * and imaging code work in it too) and sim_visibilities conjugates it on
 * output; every reader conjugates on input (img_vis, calsolve, calapply). Autocorrelations are
 * |g|^2 (sum_s S_s A + SEFD + real noise): real, positive. The noise is
 * added before the gains, so calibrated data have noise rms noise_jy in
 * each of the real and imaginary parts.
 *
 * The band always spans 1311.5-1499 MHz: nsub subbands of nchan channels of
 * 187.5 MHz / (nsub * nchan) (244.140625 kHz at the default 16 x 48), sb00
 * the highest, channels descending inside each subband. Global channel j
 * (j = sb * nchan + k) has centre frequency 1499 MHz - (j + 0.5) * width.
 *
 * Every random draw derives from the seed through independent streams
 * (sky, gains, jitter, and one noise stream per group, integration and
 * subband), so output is identical for a given seed whatever the order of
 * computation. The layout does not depend on the seed.
 *
 * sim.c holds the model (layout, sky, gains, visibilities); sim_run.c the
 * correlator-like writer, the fault injection and the truth file.
 */
#ifndef UVM_SIM_H
#define UVM_SIM_H

#include "sci/beam.h"
#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_C 299792458.0
#define SIM_LAT_DEG 37.2339
#define SIM_LON_DEG (-118.2825)
#define SIM_ALT_M 1222.0
#define SIM_DIAM_M 4.65
#define SIM_TINT_S 12.884902
#define SIM_F_TOP_HZ 1499.0e6
#define SIM_BAND_HZ 187.5e6
#define SIM_SEFD_JY 5800.0
#define SIM_ERRLEN 512
#define SIM_MAXFAULTS 64
#define SIM_NSTATIONS 117

/* File layout and array (-L): the DSA-110 writer's layout on the real
 * station list, as written since June 2022 (scalar phase_center_app_dec)
 * or before; or UVH5 1.2 on the old synthetic T (uvm-sim's former
 * default). */
enum sim_layout_kind { SIM_L_DSA110 = 0, SIM_L_DSA110_OLD, SIM_L_UVH5 };

/* The DSA-110 station list (sim_stations.c): lat, lon (deg), elevation (m,
 * NAN when unknown). */
extern const double sim_stations[SIM_NSTATIONS][3];

enum sim_fault_kind {
	SIM_F_TRUNCATE, SIM_F_FLIP, SIM_F_SHAPE, SIM_F_NAN, SIM_F_MISSING,
	SIM_F_LATE, SIM_F_DUPLICATE, SIM_F_HOSTILE
};

struct sim_fault {
	enum sim_fault_kind kind;
	int sb;     /* subband (-1 for hostile) */
	int group;  /* 0-based group index */
};

struct sim_opts {
	int nants, nsub, nchan, ntimes, ngroups;
	enum sim_layout_kind layout; /* -L */
	double dec_deg;
	int dec_given;             /* -d given: else the calibrator's dec when -k */
	uint64_t seed;
	double start_unix;         /* requested start, UTC seconds */
	const char *catalogue;     /* -K */
	const char *calname;       /* -k */
	int cal_group;             /* -C */
	int nsrc;                  /* -N: random sources per group */
	int sky_counts;            /* -Y counts: drawn from 1.4 GHz source
				    * counts out to the beam's first null
				    * (sim_counts_draw), else log-uniform
				    * 0.5-5 Jy within 0.75 FWHM */
	double sky_radius_deg;     /* -Y counts:R: out to R deg instead */
	const char *srcfile;       /* -P: explicit sources, catalogue format */
	double noise_jy;           /* -n; < 0: the radiometer equation,
				    * SIM_SEFD_JY / sqrt(2 chan_width SIM_TINT_S),
				    * set by sim_init */
	double gain_level, pace, jitter_s;
	int nfaults;
	struct sim_fault faults[SIM_MAXFAULTS];
	const char *truth;         /* -R or NULL */
	const char *outdir;        /* -o */
};

/* Defaults of the real instrument (SCIENCE.md). */
void sim_opts_default(struct sim_opts *o);
/* Parse "kind:SB[@G]" or "hostile[@G]" into f; 0 or -1. */
int sim_parse_fault(const char *s, struct sim_fault *f);
const char *sim_fault_name(enum sim_fault_kind k);

struct sim_source {
	char name[64];
	double ra, dec;            /* ICRS, radians */
	double ra_app, dec_app;    /* CIRS at the mid-time of group app_group */
	int app_group;             /* 0: not computed, else group + 1 */
	double flux_jy, ref_freq_hz, alpha;
	int is_cal;
};

/* g = amp * B(f) * exp(i (phi0 + 2 pi f tau + rate (t - t0))),
 * B(f) = 1 + slope (f - f_ref) / f_ref + ripple cos(2 pi (f - f_ref) / period + rphase). */
struct sim_gain {
	double amp, phi0, tau_s, rate_rad_s;
	double slope, ripple, period_hz, rphase;
};
#define SIM_GAIN_FREF_HZ 1405.0e6

struct sim_group {
	double start_unix;         /* first integration's start */
	long name_unix;            /* sb00's file-name time (group id) */
	long *sb_unix;             /* nsub file-name times */
	char id[32];               /* YYYYMMDDTHHMMSS */
};

struct sim {
	struct sim_opts o;
	int nbls, nfreq, npol;
	double lat, lon, dec;      /* radians */
	double chan_width;         /* Hz, positive */
	double *freq;              /* nfreq, global channel order (descending) */
	double *enu;               /* nants x 3, metres */
	double *ecef;              /* nants x 3, relative to the array centre */
	int *ant_num;              /* nants: antenna number in the file (station - 1) */
	double *st_ecef;           /* SIM_NSTATIONS x 3 (DSA-110 layouts), else NULL */
	int *a1, *a2;              /* nbls, a1 <= a2, (0,0),(0,1),...,(1,1),... */
	double *uvw;               /* nbls x 3 metres, constant (meridian phasing) */
	int nsrcs;
	struct sim_source *src;
	struct sim_gain *gain;     /* nants x 2 (pol) */
	double t0_unix;            /* gain drift reference: first integration start */
	struct sim_group *groups;
	char calname[64];
	/* Work arrays, allocated once. */
	int nact;                  /* sources active in the current integration */
	int *act;                  /* indices of active sources */
	double *lmn;               /* nsrcs x 4: l, m, n, theta */
	double *amp;               /* nact x nchan: S(f) A(theta, f), one subband */
	double complex *g;         /* nants x 2 x nchan: gains, one subband */
	double *autosky;           /* nchan: sum_s S A + SEFD */
	double complex *acc;       /* nchan scratch */
	double *scr;               /* 2 nchan scratch */
	int cur_group, cur_time;   /* what the work arrays hold, -1 none */
	struct sim_defects *dfx;   /* injected defects (sim_defects.h) or NULL */
};

/*
 * Build the model from o: layout, baselines, frequencies, groups and
 * their timing (calibrator transit), sky, gains. Returns 0, or an exit
 * status (EX_USAGE for bad sizes, EX_NOINPUT / EX_DATAERR for the
 * catalogue or source file, EX_OSERR for memory) with err filled.
 */
int sim_init(struct sim *s, const struct sim_opts *o, char *err);
void sim_free(struct sim *s);

/* Fixed deterministic T layout: nants x 3 ENU metres. */
void sim_layout(int nants, double *enu);
/*
 * The real DSA-110 array: ENU (metres, relative to the telescope location
 * lat/lon radians, alt metres) of every station into st_enu (117 x 3),
 * and the nants active ones (at most 117): stations spread evenly over the
 * list, in a correlator-like order (the list rotated, so that some rows
 * have ant_1 > ant_2) into num (antenna numbers, station - 1). A station
 * without an elevation gets the mean of the others. 0, or -1 if nants is
 * out of range.
 */
int sim_layout_dsa110(int nants, double lat, double lon, double alt, double *st_enu, int *num);
/* Rotate a local ENU vector into ECEF axes at (lat, lon) radians. */
void sim_enu_to_ecef(double lat, double lon, const double *enu, double *xyz);
/* uvw (metres) of ENU baseline b for the direction HA = 0, Dec = dec. */
void sim_uvw_meridian(double lat, double dec, const double *b, double *uvw);
/* Direction cosines of (ra, dec) relative to the phase centre (ra0, dec0). */
void sim_lmn(double ra, double dec, double ra0, double dec0, double *l, double *m, double *n);
/* The meridian's CIRS right ascension (astro.h: Earth rotation angle with
 * UT1 = UTC, plus lon) in radians at UTC time unix_s (seconds since 1970).
 * Sources are placed from their ICRS positions through ERFA (CIRS at each
 * group's mid-time), so the files hold the sky where it really is. */
double sim_lst(double unix_s, double lon);
double sim_jd(double unix_s);
/* Fill x's CIRS position for the mid-time of group gi (cached). */
void sim_apparent(const struct sim *s, struct sim_source *x, int gi);
/* Power beam at angular distance theta (rad) from the pointing (sim_beam.c:
 * by default the tapered dish integrated numerically, or beam.c's Airy or
 * Gaussian). */
double sim_beam(double theta, double freq_hz);
/* The model sim_beam uses from now on (default BEAM_TAPER), and its name. */
void sim_beam_use(enum beam_model m);
const char *sim_beam_name(void);
/* Flux density of src at freq (no beam). */
double sim_flux(const struct sim_source *src, double freq_hz);
/* Complex gain at freq and t_rel seconds after the reference time. */
double complex sim_gain_eval(const struct sim_gain *g, double freq_hz, double t_rel);
/* Centre time (UTC seconds) of integration t of group gi. */
double sim_time(const struct sim *s, int gi, int t);

/*
 * Visibilities of group gi, integration t, subband sb into out
 * (nbls x nchan x npol, row-major, pols XX then YY), with noise and
 * gains; nan_fault sets a few unflagged samples to NaN. The per-integration
 * terms are computed once and reused across subbands. Sources whose
 * apparent flux is below 1e-6 Jy at both band edges are left out. Returns
 * 0, or -1 when out of memory. Not thread-safe on one struct sim.
 */
int sim_visibilities(struct sim *s, int gi, int t, int sb, int nan_fault,
    float complex *out);

/* Write the correlator-like stream, faults and truth; 0 or an exit status
 * (messages logged). Defined in sim_run.c. */
int sim_run(struct sim *s);

/* Euclidean-normalised 1.4 GHz differential source counts S^2.5 dN/dS
 * (Jy^1.5 sr^-1) at s_jy (sim_sky.c: the form and its source). */
double sim_counts_euclid(double s_jy);
struct sim_rng;
/*
 * The nsrc brightest sources of a cap of the sky of the given radius
 * (radians): *smin is the flux above which the counts expect nsrc sources
 * there; flux[k] (Jy at 1.4 GHz) drawn from the counts above it, rad[k]
 * (radians from the centre) uniform in solid angle, pa[k] uniform. 0, or
 * -1 when out of memory.
 */
int sim_counts_draw(int nsrc, double radius, struct sim_rng *r, double *flux, double *rad,
    double *pa, double *smin);

/* Small deterministic generator (xoshiro256**) and normal deviates. */
struct sim_rng { uint64_t s[4]; };
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_uniform(struct sim_rng *r);  /* [0, 1) */
double sim_rng_normal(struct sim_rng *r);   /* N(0, 1), ziggurat */

#endif
