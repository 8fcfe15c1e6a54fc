# sources.mk: products/G/sources.json, the source catalogue (SEP) of the
# primary-beam-corrected image written beside the image ($<) by the image
# stage, so that its fluxes are intrinsic; cross-matched with
# SOURCES_REFERENCE when the config names one; -f gives each source the
# primary beam at its peak (image.fits over image.pb.fits). uvm-qa reads
# it for its source counts and the cross-match gate.

products/%/sources.json:
	$(RUN) -s sources -t $@ -i $< -- uvm-sources -f $(@D)/image.fits -o $@ $(@D)/image.pb.fits
