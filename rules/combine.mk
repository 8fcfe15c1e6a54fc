# combine.mk: a group's verified subbands combined into one UVH5 file,
# products/G/vis.uvh5. Its prerequisites are the verify reports, stamps
# over the incoming files, so it reads those files themselves: SB_G lists
# the subbands present, IN_G/sbNN are their input files (names with ':',
# which make cannot have as prerequisites); a partial group declares the
# subbands it lacks (MISSING_G, passed as -m sbNN each) so the frequency
# gaps are expected and recorded.

products/%/vis.uvh5:
	$(RUN) -s combine -t $@ $(addprefix -i ,$(foreach s,$(SB_$*),$(IN_$*/$s))) -- uvm-combine $(addprefix -m ,$(MISSING_$*)) -o $@ $(foreach s,$(SB_$*),$(IN_$*/$s))
