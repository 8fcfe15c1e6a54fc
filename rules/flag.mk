# flag.mk: products/G/flag.uvh5, the combined visibilities with flags for
# dead and bad antennas, bad channels and integrations (median/MAD) and RFI
# (AOFlagger, FLAG_STRATEGY), and beside it the report products/G/flag.json
# (flagged fractions per antenna, channel, worst baselines, overall) that
# QA, metrics and the dashboard read. A group flagged beyond
# FLAG_MAX_FRACTION exits 79: the wrapper dead-letters it at once (class
# overflagged) and alerts; its report is kept, nothing downstream is made.

products/%/flag.uvh5:
	$(RUN) -s flag -t $@ -i $< -- uvm-flag -D $(UVM_HOME) -r $(@D)/flag.json -o $@ $<
