# calapply.mk: calibrated visibilities, products/G/cal.uvh5.
#
# CAL_G is the table the planner chose for G from the registry (a table
# valid at G's time, else a stale one, else the last good one; a calibrator
# group gets its own). It is a prerequisite through second expansion, so
# make builds a planned table first and re-makes G when the planner names a
# better one. With CAL_G empty uvm-calapply asks the registry at run time
# and exits 69 when there is no table at all: the wrapper defers the group
# with its long backoff, and the wait shows in the status.

.SECONDEXPANSION:

products/%/cal.uvh5: products/%/vis.uvh5 $$(CAL_$$*)
	$(RUN) -s calapply -t $@ -i products/$*/vis.uvh5 -- uvm-calapply -D $(UVM_HOME) $(addprefix -c ,$(CAL_$*)) -o $@ products/$*/vis.uvh5
