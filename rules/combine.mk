# combine.mk: a group's verified subbands combined into one UVH5 file,
# products/G/vis.uvh5. SB_G lists the subbands present, IN_G/sbNN are their
# input files; a partial group declares the subbands it lacks (MISSING_G,
# passed as -m sbNN each) so the frequency gaps are expected and recorded.

products/%/vis.uvh5:
	$(RUN) -s combine -t $@ $(addprefix -i ,$(foreach s,$(SB_$*),$(IN_$*/$s))) -- uvm-combine $(addprefix -m ,$(MISSING_$*)) -o $@ $(foreach s,$(SB_$*),$(IN_$*/$s))
