# qa.mk: products/G/qa.json, the image's measurements and quality gate
# (uvm-qa exits 0 either way; "pass" in the report says which).

products/%/qa.json: products/%/image.fits
	$(RUN) -s qa -t $@ -i products/$*/image.fits -- uvm-qa -o $@ products/$*/image.fits
