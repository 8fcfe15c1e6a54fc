/*
 * test_prov.c: unit tests of core/prov (the provenance record) and of the
 * keys column of core/stages, with known answers: the canonical settings
 * text of a hand-made config, the record's members for a file of known
 * size and time under a fake deployment, the library versions against the
 * libraries' own headers, the FITS HISTORY round trip with blanks at the
 * ends of the pieces (which FITS readers drop), and the parser refusing
 * malformed keys. TAP output.
 */
#include <fcntl.h>
#include <fitsio.h>
#include <hdf5.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/cfg.h"
#include "core/fsx.h"
#include "core/json.h"
#include "core/log.h"
#include "core/prov.h"
#include "core/stages.h"

static int n, failed;

static void ok(int cond, const char *name)
{
	n++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n, name);
}

static char dir[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	if (fsx_write_file(p, text, strlen(text), 0644) < 0) {
		perror(p);
		exit(1);
	}
}

static void test_settings_text(void)
{
	struct stages st;
	struct cfg c;
	char *t;
	size_t len;
	memset(&st, 0, sizeof st);
	memset(&c, 0, sizeof c);
	st.n = 1;
	snprintf(st.v[0].keys, sizeof st.v[0].keys, "IMAGE_*,PB_MODEL");
	cfg_set(&c, "IMAGE_NPIX", "128");
	cfg_set(&c, "PB_MODELX", "no");
	cfg_set(&c, "FLAG_STRATEGY", "x.lua");
	cfg_set(&c, "IMAGEX", "no");
	cfg_set(&c, "PB_MODEL", "airy");
	cfg_set(&c, "IMAGE_CELL_ARCSEC", "0");
	t = prov_settings_text(&st, 0, &c, &len);
	ok(t && !strcmp(t, "IMAGE_CELL_ARCSEC=0\nIMAGE_NPIX=128\nPB_MODEL=airy\n") &&
		len == strlen(t),
	    "settings: exactly the matching keys, sorted, KEY=value lines");
	free(t);
	st.v[0].keys[0] = 0;
	t = prov_settings_text(&st, 0, &c, &len);
	ok(t && !*t && len == 0, "settings: a stage without keys has an empty text");
	free(t);
	cfg_free(&c);
}

/* Load a one-stage description with keys column k; the result. */
static int load_keys(const char *k, char *err, size_t errlen)
{
	struct stages st;
	char text[512], path[128];
	snprintf(text, sizeof text, "image products/{G}/image.fits - group - disk keep 0 - %s\n", k);
	put("rules/stages", text);
	snprintf(path, sizeof path, "%s/rules/stages", dir);
	return stages_load(&st, path, err, errlen) < 0 ? -1 : stages_key_matters(&st, 0, "IMAGE_NPIX");
}

static void test_keys_column(void)
{
	char err[512], p[128];
	snprintf(p, sizeof p, "%s/rules", dir);
	mkdir(p, 0755);
	put("rules/image.mk", "# test\n");
	ok(load_keys("IMAGE_*,PB_MODEL", err, sizeof err) == 1, "keys: a prefix pattern matches");
	ok(load_keys("IMAGE_NPIX", err, sizeof err) == 1, "keys: an exact name matches");
	ok(load_keys("IMAGE_NPIXX,IMAGE_N", err, sizeof err) == 0, "keys: names are not prefixes");
	ok(load_keys("-", err, sizeof err) == 0, "keys: '-' is none");
	ok(load_keys("image_*", err, sizeof err) < 0 && strstr(err, ":1: keys 'image_*': want"),
	    "keys: lowercase refused, with the line");
	ok(load_keys("IMAGE_**", err, sizeof err) < 0, "keys: '**' refused");
	ok(load_keys("A,,B", err, sizeof err) < 0, "keys: an empty name refused");
	ok(load_keys("A,", err, sizeof err) < 0, "keys: a trailing comma refused");
	ok(load_keys("*", err, sizeof err) < 0, "keys: a bare '*' refused");
}

/* The member "inputs"[0] of js: path and size. */
static char in_path[256];
static double in_size = -1;
static char in_mtime[64];
static int first_input(const char *elem, size_t len, void *arg)
{
	char *e = strndup(elem, len);
	(void)arg;
	if (in_size < 0 && e) {
		json_get_string(e, "path", in_path, sizeof in_path);
		json_get_number(e, "size", &in_size);
		if (json_get_string(e, "mtime", in_mtime, sizeof in_mtime) != 1)
			in_mtime[0] = 0;
	}
	free(e);
	return 0;
}

static void test_record(void)
{
	char p[256], v[256], *set = NULL, *libs = NULL, *timed;
	const char *js;
	struct timespec t[2] = {{1761307203, 500000000}, {1761307203, 500000000}};
	int maj = H5_VERS_MAJOR, min = H5_VERS_MINOR, rel = H5_VERS_RELEASE;
	snprintf(p, sizeof p, "%s/state", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/state/settings", dir);
	mkdir(p, 0755);
	/* the settings come from the deployment's config and the installation's
	 * rules/stages (image: IMAGE_*,PB_MODEL), not from the planner's file */
	put("state/settings/image.conf", "IMAGE_NPIX=1\n");
	put("uvmake.conf", "IMAGE_NPIX=128\nPB_MODEL=airy\nQA_MIN_DR=3\n");
	put("vis.uvh5", "0123456789");
	snprintf(p, sizeof p, "%s/vis.uvh5", dir);
	utimensat(AT_FDCWD, p, t, 0);
	setenv("UVM_HOME", dir, 1);
	setenv("UVM_STAGE", "image", 1);
	prov_begin(NULL);
	ok(prov_input(p) == 0, "record: an input is stat'ed");
	js = prov_json();
	ok(js && json_get_string(js, "program", v, sizeof v) == 1 && !strcmp(v, "test_prov"),
	    "record: the program");
	ok(json_get_string(js, "stage", v, sizeof v) == 1 && !strcmp(v, "image"),
	    "record: the stage from $UVM_STAGE");
	in_size = -1;
	ok(json_get_array(js, "inputs", first_input, NULL) == 1 && !strcmp(in_path, "vis.uvh5") &&
		in_size == 10 && !in_mtime[0],
	    "record: the input relative to the deployment, 10 bytes, no time in a product");
	ok(json_get_object(js, "settings", &set) == 1 &&
		json_get_string(set, "IMAGE_NPIX", v, sizeof v) == 1 && !strcmp(v, "128") &&
		json_get_string(set, "PB_MODEL", v, sizeof v) == 1 && !strcmp(v, "airy") &&
		json_get_string(set, "IMAGE_GAIN", v, sizeof v) == 1 && !strcmp(v, "0.1") &&
		json_get_string(set, "QA_MIN_DR", v, sizeof v) == 0,
	    "record: the stage's settings as the config gives them (defaults too), no other key");
	ok(json_is_null(js, "caltable") == 0 && json_get_string(js, "caltable", v, sizeof v) == 0,
	    "record: no table until one is named");
	ok(json_get_object(js, "libraries", &libs) == 1, "record: libraries");
	snprintf(p, sizeof p, "%d.%d.%d", maj, min, rel);
	ok(libs && json_get_string(libs, "hdf5", v, sizeof v) == 1 && !strcmp(v, p),
	    "record: the HDF5 version is the library's");
	ok(libs && json_get_string(libs, "sqlite", v, sizeof v) == 1 && !strcmp(v, SQLITE_VERSION),
	    "record: the SQLite version is the library's");
	free(set);
	free(libs);
	prov_inherit("{\"caltable\":\"caltables/20251024T120003.cal.h5\",\"caltable_id\":\"x\"}");
	js = prov_json();
	ok(json_get_string(js, "caltable", v, sizeof v) == 1 &&
		!strcmp(v, "caltables/20251024T120003.cal.h5") &&
		json_get_string(js, "caltable_id", v, sizeof v) == 1 && !strcmp(v, "x"),
	    "record: a table inherited from an input's record");
	prov_inherit("{\"caltable\":\"caltables/other.cal.h5\",\"caltable_id\":\"y\"}");
	ok(json_get_string(prov_json(), "caltable", v, sizeof v) == 1 &&
		!strcmp(v, "caltables/20251024T120003.cal.h5"),
	    "record: the first table stays");
	timed = prov_json_timed();
	in_size = -1;
	ok(timed && json_get_array(timed, "inputs", first_input, NULL) == 1 &&
		!strcmp(in_mtime, "2025-10-24T12:00:03.500000000Z") &&
		json_get_string(timed, "made", v, sizeof v) == 1,
	    "record (job): the input's mtime to the nanosecond, and when it was made");
	free(timed);
}

static void test_fits(void)
{
	char path[256], spaced[128], *back;
	fitsfile *f;
	int st = 0;
	long ax[2] = {2, 2};
	/* 70 blanks: a piece boundary falls inside them whatever the offset */
	snprintf(spaced, sizeof spaced, "x%70sy\xc3\xa9", "");
	prov_input(spaced);
	snprintf(path, sizeof path, "!%s/p.fits", dir);
	fits_create_file(&f, path, &st);
	fits_create_img(f, FLOAT_IMG, 2, ax, &st);
	prov_fits_write(f, &st);
	fits_close_file(f, &st);
	ok(st == 0, "fits: the record written as HISTORY cards");
	back = prov_fits_read(path + 1);
	{
		char *want = strdup(prov_json());
		for (char *c = want; c && *c; c++)
			if ((unsigned char)*c < 32 || (unsigned char)*c > 126)
				*c = '?';
		ok(back && want && !strcmp(back, want),
		    "fits: read back exactly (blanks at piece ends kept, non-ASCII as '?')");
		free(want);
	}
	ok(back && json_is_null(back, "program") == 0, "fits: what comes back is valid JSON");
	free(back);
	snprintf(path, sizeof path, "%s/vis.uvh5", dir);
	ok(prov_fits_read(path) == NULL, "fits: a file that is not FITS has no record");
}

int main(void)
{
	char cmd[128];
	log_init("test_prov");
	snprintf(dir, sizeof dir, "/tmp/test_prov.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_settings_text();
	test_keys_column();
	test_record();
	test_fits();
	prov_reset();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	printf("1..%d\n", n);
	return failed != 0;
}
