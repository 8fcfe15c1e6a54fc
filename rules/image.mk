# image.mk: a group's image and its quality report.
#
# products/G/image.fits is imaged by uvm-image from the calibrated
# visibilities products/G/cal.uvh5 (settings from uvmake.conf: IMAGE_NPIX,
# IMAGE_CELL_ARCSEC, IMAGE_NITER, IMAGE_GAIN, IMAGE_THRESHOLD_JY,
# IMAGE_WEIGHTING, IMAGE_FFTW_PLAN; FFTW wisdom kept in
# state/fftw.wisdom). products/G/qa.json is uvm-qa's report on the image;
# a failed quality gate is recorded in it ("pass": false), not a failed
# job, so the report exists for every image.

# The image is a product in its own right (the mosaic reads it), never an
# intermediate file to delete once qa.json exists.
.PRECIOUS: products/%/image.fits

products/%/image.fits: products/%/cal.uvh5
	$(RUN) -s image -t $@ -i products/$*/cal.uvh5 -- uvm-image -o $@ products/$*/cal.uvh5

products/%/qa.json: products/%/image.fits
	$(RUN) -s qa -t $@ -i products/$*/image.fits -- uvm-qa -o $@ products/$*/image.fits
