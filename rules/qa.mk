# qa.mk: products/G/qa.json, the image's measurements and quality gate,
# with the source catalogue ($<, sources.json beside the image) for its
# counts and cross-match (uvm-qa exits 0 either way; "pass" in the report
# says which).

products/%/qa.json:
	$(RUN) -s qa -t $@ -i $(@D)/image.fits -- uvm-qa -o $@ $(@D)/image.fits
