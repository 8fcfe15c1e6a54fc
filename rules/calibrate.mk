# calibrate.mk: calibration tables and calibrated visibilities.
#
# caltables/G.cal.h5 is solved on calibrator group G's combined
# visibilities by uvm-calsolve, which also registers it (good or rejected)
# in state/calibration.sqlite. products/G/cal.uvh5 applies CAL_G, the table
# the planner chose for G from the registry (cal_choose: a table valid at
# G's time, else a stale one, else the last good one), written into
# state/pipeline.mk as `CAL_G := caltables/C.cal.h5`; a calibrator group
# gets its own table. The table is a prerequisite (second expansion), so
# make builds a planned table first and re-makes G when the planner later
# names a better one. With CAL_G empty, uvm-calapply asks the registry at
# run time and exits 69 when there is no table at all (the wrapper defers
# the group with its long backoff).

.SECONDEXPANSION:

# A table is a product in its own right (the registry points at it): never
# delete it as an intermediate file.
.PRECIOUS: caltables/%.cal.h5

caltables/%.cal.h5: products/%/vis.uvh5
	$(RUN) -s calsolve -t $@ -i products/$*/vis.uvh5 -- uvm-calsolve -D $(UVM_HOME) -g $* -o $@ products/$*/vis.uvh5

products/%/cal.uvh5: products/%/vis.uvh5 $$(CAL_$$*)
	$(RUN) -s calapply -t $@ -i products/$*/vis.uvh5 $(addprefix -i ,$(CAL_$*)) -- uvm-calapply -D $(UVM_HOME) $(addprefix -c ,$(CAL_$*)) -o $@ products/$*/vis.uvh5
