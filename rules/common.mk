# common.mk: what every stage's rules share; included first by the
# generated state/pipeline.mk (which sets UVM_HOME and UVM_RULES and runs
# with -C $(UVM_HOME), so every target is a path relative to the deployment).
#
# No built-in rules or variables, no suffix rules: only the explicit targets
# the planner wrote and the pattern rules of rules/<stage>.mk apply. The
# graph is rules/stages: the planner writes every product's prerequisites
# from it, and a stage's pattern rule has none of its own; its recipe
# reads its inputs from them ($<, $^), never from a path typed again.
# A recipe that fails leaves no product behind (.DELETE_ON_ERROR), though
# the stage programs write atomically and never leave a partial one anyway.
# Only ':=' assignments and no parse-time $(shell): reading this costs
# nothing however many groups are active.

MAKEFLAGS += -rR
.DELETE_ON_ERROR:
.SUFFIXES:

# Every recipe runs its stage program through the wrapper, as a prefix:
# make executes the words directly (no shell metacharacters in our
# recipes), so a file name is never re-read by a shell.
RUN := uvm-run -D $(UVM_HOME)

# A stage whose settings matter (the keys column of rules/stages) has
# state/settings/<stage>.conf as a prerequisite of its products, so that a
# changed setting re-makes them; so has a stage that reads a chosen table
# state/chosen/<G> beside the table (the choice, rewritten when it
# changes). Recipes that pass all prerequisites on take INPUTS, $^ without
# those. (Recursive, since $^ is the recipe's; it costs nothing to read.)
INPUTS = $(filter-out state/settings/% state/chosen/%,$^)

# Product directories: the planner gives each product an order-only
# prerequisite on its directory (products/G/), made here on first use.
%/:
	mkdir -p $@
