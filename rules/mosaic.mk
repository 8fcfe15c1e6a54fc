# mosaic.mk: mosaics/H.fits, the linear mosaic of hour H's images.
# The planner gives each pending hour an explicit target whose
# prerequisites are the qa.json of exactly that hour's groups ($^; rules/
# stages: scope hour); the image is found beside each report. No -i: a bad
# image is skipped and listed in the mosaic's HISTORY, never quarantined
# from here. -b: an hour where no image passed the quality gate gets a
# blank mosaic that says so, so the hour finishes instead of being retried
# for ever.

mosaics/%.fits:
	$(RUN) -s mosaic -t $@ -g $* -- uvm-mosaic -b -H $* -o $@ $(INPUTS)
