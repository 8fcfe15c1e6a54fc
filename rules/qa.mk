# qa.mk: products/G/qa.json, the image's ($<) measurements and quality
# gate (uvm-qa exits 0 either way; "pass" in the report says which).

products/%/qa.json:
	$(RUN) -s qa -t $@ -i $< -- uvm-qa -o $@ $<
