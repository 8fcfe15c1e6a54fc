# msources.mk: mosaics/H.sources.json, the source catalogue (SEP) of hour
# H's mosaic ($<), which is primary-beam corrected, so that its fluxes are
# intrinsic; cross-matched with SOURCES_REFERENCE when the config names
# one (flux ratio, offsets, completeness, spurious fraction and the
# XMATCH_* gate, as for each group's catalogue). A blank mosaic (no image
# of the hour passed QA) gets an empty catalogue.

mosaics/%.sources.json:
	$(RUN) -s msources -t $@ -g $* -- uvm-sources -o $@ $<
