# calapply.mk: calibrated visibilities, products/G/cal.uvh5.
#
# Prerequisites (rules/stages): the visibilities to calibrate ($<), then
# the table the planner chose for G from the registry (a table valid at
# G's time, else a stale one, else the last good one; a calibrator group
# gets its own), also in CAL_G. As a prerequisite the table is built first
# when planned, and a better one named later re-makes G. With no table
# chosen uvm-calapply asks the registry at run time and exits 69 when there
# is none at all: the wrapper defers the group with its long backoff, and
# the wait shows in the status.

products/%/cal.uvh5:
	$(RUN) -s calapply -t $@ -i $< -- uvm-calapply -D $(UVM_HOME) $(addprefix -c ,$(filter-out $<,$(INPUTS))) -o $@ $<
