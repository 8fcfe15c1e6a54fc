# calsolve.mk: calibration tables, caltables/G.cal.h5, solved by
# uvm-calsolve on calibrator group G's combined visibilities ($<) and
# registered (good or rejected) in state/calibration.sqlite. The planner
# gives only groups in which a catalogue calibrator transits a calsolve
# target (rules/stages: when calibrator).
#
# A table is a product in its own right (the registry points at it): never
# deleted as an intermediate.
.PRECIOUS: caltables/%.cal.h5

caltables/%.cal.h5:
	$(RUN) -s calsolve -t $@ -i $< -- uvm-calsolve -D $(UVM_HOME) -g $* -o $@ $<
