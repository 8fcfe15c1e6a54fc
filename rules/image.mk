# image.mk: products/G/image.fits from the calibrated visibilities ($^)
# (uvm-image reads its IMAGE_* settings from the deployment's config).
# An image is kept even when only a mosaic needs it later.
.PRECIOUS: products/%/image.fits

products/%/image.fits:
	$(RUN) -s image -t $@ $(addprefix -i ,$(INPUTS)) -- uvm-image -o $@ $(INPUTS)
