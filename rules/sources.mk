# sources.mk: products/G/sources.json, the SEP source catalogue of the
# image ($<) (uvm-sources reads SOURCES_* and XMATCH_* from the
# deployment's config; with SOURCES_REFERENCE set it cross-matches too).

products/%/sources.json:
	$(RUN) -s sources -t $@ -i $< -- uvm-sources -o $@ $<
