# image.mk: products/G/image.fits from the calibrated visibilities ($^)
# and beside it image.pb.fits, the same image divided by the primary beam
# (uvm-image reads its IMAGE_* and PB_* settings from the deployment's
# config). An image is kept even when only a mosaic needs it later.
.PRECIOUS: products/%/image.fits

products/%/image.fits:
	$(RUN) -s image -t $@ $(addprefix -i ,$(INPUTS)) -- uvm-image -p $(@D)/image.pb.fits -o $@ $(INPUTS)
