/*
 * uvm-sources: the source catalogue of one image, found with SEP
 * (src/lib/sci/sources.h): ICRS position, peak and integrated flux with
 * errors, shape, signal-to-noise; as JSON.
 *
 * usage: uvm-sources [-s sigma] [-a minarea] [-R radius_beams] [-e max_false]
 *                    [-r reference.csv] [-f flat.fits] -o sources.json image.fits
 *
 * Defaults: detection at 5 sigma of the local rms map, minimum area 5
 * pixels. Each entry is marked reliable or not by the negated image's
 * detections within -R beams (300; 0: all reliable), at most -e (0.01)
 * false ones for each entry as strong (sources.h, struct src_rel). With
 * UVM_HOME set, uvmake.conf may set SOURCES_SIGMA, SOURCES_MINAREA,
 * SOURCES_RELIABILITY_RADIUS, SOURCES_MAX_FALSE, SOURCES_REFERENCE (the
 * -r file), and the cross-match
 * gate XMATCH_MIN_RATIO (0.8), XMATCH_MAX_RATIO (1.2) and
 * XMATCH_MAX_OFFSET_BEAM (0.2); flags win. The output is written
 * atomically.
 *
 * -r cross-matches the catalogue with a reference catalogue (CSV
 * name,ra_deg,dec_deg,flux_jy,ref_freq_mhz,spectral_index), its reliable
 * entries only: completeness above the detection threshold, spurious
 * fraction, median flux ratio
 * (integrated / reference at the image frequency: use it on the
 * primary-beam-corrected image) and scatter, median offsets, and a gate
 * ("pass") on the ratio and the offset; the "crossmatch" object of the
 * JSON. A failed gate is reported, not an error (exit 0).
 *
 * -f names the image before primary-beam correction when image.fits is
 * the corrected one (uvm-image -p): each source then carries the primary
 * beam at its peak ("pb"), which says how far out in the beam it is and
 * what its flat flux was.
 *
 * Exit: 0 ok; 64 usage; 65 not a usable image; 66 image missing; 70 SEP
 * failure; 73/74 cannot write the output.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/log.h"
#include "core/prog.h"
#include "sci/sources.h"
#include "core/prov.h"

#define USAGE \
	"uvm-sources [-s sigma] [-a minarea] [-R radius_beams] [-e max_false]\n" \
	"                   [-r reference.csv] [-f flat.fits] -o sources.json image.fits"

static int num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *flat = NULL, *home = getenv("UVM_HOME");
	double sigma = 5, area = 5, x;
	int c, st = 0, nref = 0;
	struct src_catalog cat;
	struct src_xmatch xm = {.min_ratio = 0.8, .max_ratio = 1.2, .max_offset_beam = 0.2};
	struct src_ref *ref = NULL;
	struct src_rel rel = {.radius_beams = 300, .max_false = 0.01};
	const char *refpath = NULL;
	static char refbuf[4096];
	char err[SOURCES_ERRLEN], *json;

	prog_start(argc, argv, USAGE);
	if (home && *home) {
		struct cfg cf;
		const char *v;

		if (cfg_load(&cf, NULL) < 0)
			return EX_USAGE;
		v = cfg_str(&cf, "SOURCES_SIGMA", "");
		if (*v && num(v, 1, 1000, &sigma) < 0) {
			log_err("uvmake.conf: bad SOURCES_SIGMA '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		v = cfg_str(&cf, "SOURCES_MINAREA", "");
		if (*v && (num(v, 1, 10000, &area) < 0 || area != floor(area))) {
			log_err("uvmake.conf: bad SOURCES_MINAREA '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		{
			static const struct { const char *key; double *v; double lo, hi; } g[] = {
				{"XMATCH_MIN_RATIO", NULL, 0, 100}, {"XMATCH_MAX_RATIO", NULL, 0, 100},
				{"XMATCH_MAX_OFFSET_BEAM", NULL, 0, 100},
			};
			double *dst[3] = {&xm.min_ratio, &xm.max_ratio, &xm.max_offset_beam};
			for (int i = 0; i < 3; i++) {
				v = cfg_str(&cf, g[i].key, "");
				if (*v && num(v, g[i].lo, g[i].hi, dst[i]) < 0) {
					log_err("uvmake.conf: bad %s '%s'", g[i].key, v);
					cfg_free(&cf);
					return EX_USAGE;
				}
			}
		}
		v = cfg_str(&cf, "SOURCES_RELIABILITY_RADIUS", "");
		if (*v && num(v, 0, 1e6, &rel.radius_beams) < 0) {
			log_err("uvmake.conf: bad SOURCES_RELIABILITY_RADIUS '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		v = cfg_str(&cf, "SOURCES_MAX_FALSE", "");
		if (*v && num(v, 0, 1, &rel.max_false) < 0) {
			log_err("uvmake.conf: bad SOURCES_MAX_FALSE '%s'", v);
			cfg_free(&cf);
			return EX_USAGE;
		}
		v = cfg_str(&cf, "SOURCES_REFERENCE", "");
		if (*v) {
			snprintf(refbuf, sizeof refbuf, "%s", v);
			refpath = refbuf;
		}
		cfg_free(&cf);
	}
	while ((c = getopt(argc, argv, "s:a:R:e:r:f:o:")) != -1) {
		switch (c) {
		case 's':
			if (num(optarg, 1, 1000, &x) < 0) {
				log_err("bad value for -s: '%s'", optarg);
				return log_usage(USAGE);
			}
			sigma = x;
			break;
		case 'a':
			if (num(optarg, 1, 10000, &x) < 0 || x != floor(x)) {
				log_err("bad value for -a: '%s'", optarg);
				return log_usage(USAGE);
			}
			area = x;
			break;
		case 'R':
			if (num(optarg, 0, 1e6, &rel.radius_beams) < 0) {
				log_err("bad value for -R: '%s'", optarg);
				return log_usage(USAGE);
			}
			break;
		case 'e':
			if (num(optarg, 0, 1, &rel.max_false) < 0) {
				log_err("bad value for -e: '%s'", optarg);
				return log_usage(USAGE);
			}
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			refpath = optarg;
			break;
		case 'f':
			flat = optarg;
			break;
		default:
			return log_usage(USAGE);
		}
	}
	if (!out || optind != argc - 1)
		return log_usage(USAGE);
	if (refpath && sources_read_ref(refpath, &ref, &nref, &st, err) < 0) {
		log_err("reference: %s", err);
		return st;
	}
	prov_inputs(argv + optind, 1);
	if (sources_find(argv[optind], flat, sigma, (int)area, &rel, ref, nref, &xm, &cat, &st,
		err) < 0) {
		log_err("%s", err);
		free(ref);
		return st;
	}
	free(ref);
	json = sources_json(&cat, argv[optind], refpath ? &xm : NULL);
	if (!json) {
		log_err("out of memory");
		sources_free(&cat);
		return EX_OSERR;
	}
	if (fsx_write_file(out, json, strlen(json), 0644) < 0) {
		log_err("cannot write '%s': %s", out, strerror(errno));
		st = errno == ENOENT || errno == EACCES || errno == EROFS || errno == ENOTDIR ?
		    EX_CANTCREAT : EX_IOERR;
	}
	log_info("'%s': %d sources above %g sigma (rms %.3g Jy/beam), %d not reliable (%d "
		 "detections in the negated image)", argv[optind], cat.n, sigma, cat.rms_jy,
	    cat.nunreliable, cat.nneg);
	if (refpath && !xm.pass)
		log_warn("'%s': cross-match gate failed: flux ratio %.3g, offset %.3g beam",
		    argv[optind], xm.flux_ratio, xm.offset_beam);
	free(json);
	sources_free(&cat);
	return st;
}
