# verify.mk: one verify report per subband input, products/G/sbNN.ok.
# IN_G/sbNN (set by the planner) is the input file (its name has ':', so
# it is no prerequisite); the stem of the target products/G/sbNN.ok is
# G/sbNN. A corrupt input exits 65 and the wrapper moves it to quarantine/
# with a reason.

products/%.ok:
	$(RUN) -s verify -t $@ -i $(IN_$*) -- uvm-verify -q -o $@ $(IN_$*)
