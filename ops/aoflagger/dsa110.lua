--[[
 uvmake's AOFlagger strategy for DSA-110 combined groups (uvm-flag).

 Input: one baseline of one group, 24 integrations of 12.9 s (time, x)
 by 768 channels of 244 kHz (frequency, y), XX and YY as complex values.
 Output: one mask for both polarizations.

 Method (AOFlagger's usual iterative scheme, tuned for this instrument):
 for each polarization, on amplitudes,
   1. SumThreshold at a high level, then lower it by a factor 2 each pass
      (iteration_count passes, ending at base_threshold); between passes
      the flagged samples are ignored, a smooth background (Gaussian
      low-pass filter over time and frequency) is fitted to the rest and
      subtracted, so the next pass looks at residuals only;
   2. RMS cuts on whole integrations (broadband bursts) and channels
      (persistent narrowband lines) at each pass;
 then, on the union of both polarizations' masks, the scale-invariant rank
 operator widens flagged regions a little (RFI edges) and a last cut on
 integration RMS catches bursts the per-pol passes split.

 Parameters from the DSA-110 operators' measurements: base threshold 1.2,
 transient threshold factor 0.8 (more sensitive to short,
 time-direction events). The background fit is narrow (Gaussian sigma 1
 integration x 2 channels, no resizing): a group has only 24 integrations,
 and the sky itself (several Jy of sources beating in amplitude across
 the band, against 2 Jy of noise per visibility) must be followed, not
 flagged. Measured on simulated groups with every uvm-sim defect
 (uvm-sim -D all, 16 antennas, 96 channels, 12 seeds; tests/flag-score.sh):
 recall 100% of injected RFI samples, false flags 0.2-1.5% of clean ones;
 the generic kernel (sigma 2.5 x 5 on 3-channel averages) flagged up to
 4.4% of clean samples where the sky is bright.

 Iterations: 3, not the operators' 4 (bench/bench-flag-strategies.sh,
 bench/results/flag-strategies.txt: 32 antennas x 768 channels x 24
 integrations, seeds 3 and 5): the same flags' scores (recall 1.0, false
 0.10% and 0.15%) for 12-17% less CPU; 2 iterations start too low and
 take the sky for RFI (90% flagged). Flagging pseudo-Stokes I once instead
 of each polarization saves 35% but doubles the false flags of the
 96-channel test group (1.1% -> 2.1%, tests/uvm-flag.bats), so it is not
 used.

 SumThreshold: the passes before the last only choose the samples the
 background is fitted to, and use AOFlagger's vectorised SumThreshold
 (input flags count as flagged); the last pass, whose flags are kept,
 treats the input flags as missing data (sumthreshold_masked, AOFlagger's
 generic and slower code). Masked passes throughout cost 30% more CPU for
 the same flags (0.014% of the samples differ; recall and false flags
 equal: bench/results/flag-strategies.txt, "allmasked").

 Edit a copy and point FLAG_STRATEGY (configuration) or uvm-flag -s at it.
]]

aoflagger.require_min_version("3.0")

function execute(input)
  local base_threshold = 1.2
  local iteration_count = 3
  local threshold_factor_step = 2.0
  local transient_threshold_factor = 0.8
  local time_resize_factor = 1
  local frequency_resize_factor = 1
  local timestep_rms_cut = 3.5
  local channel_rms_cut = 3.0
  local sir_eta = 0.2

  local original = input:copy()

  for ipol, pol in ipairs(input:get_polarizations()) do
    local data = input:convert_to_polarization(pol)
    data = data:convert_to_complex("amplitude")
    local kept = data:copy()

    for i = 1, iteration_count - 1 do
      local factor = threshold_factor_step ^ (iteration_count - i)
      local level = factor * base_threshold

      aoflagger.sumthreshold(data, level,
        level * transient_threshold_factor, true, true)

      local bychannel = data:copy()
      aoflagger.threshold_timestep_rms(data, timestep_rms_cut)
      aoflagger.threshold_channel_rms(bychannel, channel_rms_cut * factor, true)
      data:join_mask(bychannel)

      -- background from the unflagged samples, subtracted
      data:set_visibilities(kept)
      data:join_mask(kept)
      local small = aoflagger.downsample(data, time_resize_factor,
        frequency_resize_factor, true)
      aoflagger.low_pass_filter(small, 5, 9, 1.0, 2.0)
      aoflagger.upsample(small, data, time_resize_factor, frequency_resize_factor)
      local residual = kept - data
      residual:set_mask(data)
      data = residual
    end

    aoflagger.sumthreshold_masked(data, kept, base_threshold,
      base_threshold * transient_threshold_factor, true, true)
    data:join_mask(kept)

    if input:is_complex() then
      data = data:convert_to_complex("complex")
    end
    input:set_polarization_data(pol, data)
  end

  aoflagger.scale_invariant_rank_operator_masked(input, original, sir_eta, sir_eta)
  aoflagger.threshold_timestep_rms(input, 4.0)
  input:flag_nans()
end
